"""Reads [{"spec": NAME, "telegram": TEXT}, ...] on stdin and prints, per telegram, every value
dsmr-parser reports: [{"name", "obis", "values": [[value, unit], ...]}, ...] as one JSON list.

Used by notch-p1's differential test; timestamps are ISO 8601 in UTC, numbers are decimal strings.
"""
import json
import sys
from datetime import datetime

from dsmr_parser import telegram_specifications
from dsmr_parser.objects import CosemObject, MBusObject, MBusObjectPeak, ProfileGenericObject
from dsmr_parser.parsers import TelegramParser


def text(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def values_of(obj):
    if isinstance(obj, list):
        return [v for item in obj for v in values_of(item)]
    if isinstance(obj, MBusObjectPeak):
        return [[text(obj.datetime), None], [text(obj.occurred), None], [text(obj.value), obj.unit]]
    if isinstance(obj, MBusObject):
        return [[text(obj.datetime), None], [text(obj.value), obj.unit]]
    if isinstance(obj, ProfileGenericObject):
        return [v for entry in obj.buffer
                for v in ([text(entry.datetime), None], [text(entry.value), entry.unit])]
    if isinstance(obj, CosemObject):
        return [[text(v["value"]), v["unit"]] for v in obj.values]
    raise TypeError("unexpected dsmr-parser object %r" % (obj,))


def dump(spec_name, telegram):
    spec = getattr(telegram_specifications, spec_name)
    parser = TelegramParser(spec)
    parser.validate_checksum(telegram) if spec["checksum_support"] else None
    records = []
    for obj_spec in spec["objects"]:
        for match in parser.telegram_specification_regexes[obj_spec["obis_reference"]].findall(telegram):
            parsed = obj_spec["value_parser"].parse(match)
            records.append({
                "name": obj_spec["value_name"],
                "obis": match.split("(", 1)[0],
                "values": values_of(parsed),
            })
    return records


def main():
    items = json.load(sys.stdin)
    json.dump([dump(item["spec"], item["telegram"]) for item in items], sys.stdout)


if __name__ == "__main__":
    main()
