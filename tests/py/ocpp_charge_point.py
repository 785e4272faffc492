"""A real OCPP 1.6J charge point (PyPI `ocpp`) driven against notch's /ocpp endpoint by tests/charging_ocpp.rs.

Phase 1 sends malformed frames on a raw websocket and checks each gets a CallError while the connection
keeps answering. Phase 2 boots, authorizes, waits for RemoteStartTransaction, starts, sends meter values and
stops, printing what it did so the Rust side can check the recorded bill.
"""

import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RemoteStartStopStatus,
)

TIMEOUT_S = 30


def iso(t):
    return t.isoformat()


async def bad_frames(url):
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6", ws.subprotocol

        async def exchange(text):
            await ws.send(text)
            return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))

        def expect_error(reply, message_id, code):
            assert reply[0] == 4 and reply[1] == message_id and reply[2] == code, reply

        expect_error(await exchange("this is not json"), "-1", "FormationViolation")
        expect_error(await exchange('[2,"b1","FlyToTheMoon",{}]'), "b1", "NotImplemented")
        expect_error(await exchange('[2,"b2","Authorize",{"idTag":5}]'), "b2", "TypeConstraintViolation")
        expect_error(
            await exchange(
                '[2,"b3","StartTransaction",{"connectorId":"one","idTag":"x","meterStart":0,'
                '"timestamp":"2026-01-01T00:00:00Z"}]'
            ),
            "b3",
            "TypeConstraintViolation",
        )
        expect_error(await exchange('[2,"b4","Authorize",{}]'), "b4", "OccurenceConstraintViolation")
        expect_error(await exchange('{"not":"an array"}'), "-1", "FormationViolation")
        big = '[2,"b5","Heartbeat",{"pad":"' + "x" * (80 * 1024) + '"}]'
        expect_error(await exchange(big), "-1", "FormationViolation")
        alive = await exchange('[2,"b6","Heartbeat",{}]')
        assert alive[0] == 3 and alive[1] == "b6" and "currentTime" in alive[2], alive
    print("BADFRAMES OK", flush=True)


class TestChargePoint(ChargePoint):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.remote_start = asyncio.get_running_loop().create_future()

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @after(Action.remote_start_transaction)
    def after_remote_start(self, id_tag, connector_id=None, **kwargs):
        if not self.remote_start.done():
            self.remote_start.set_result((id_tag, connector_id or 1))


async def session(url, charge_point_id):
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        cp = TestChargePoint(charge_point_id, ws)
        listener = asyncio.create_task(cp.start())

        boot = await cp.call(call.BootNotification(charge_point_model="Test", charge_point_vendor="notch-tests"))
        assert boot.status == "Accepted", boot
        await cp.call(call.Heartbeat())
        await cp.call(
            call.StatusNotification(
                connector_id=1, error_code=ChargePointErrorCode.no_error, status=ChargePointStatus.available
            )
        )
        unknown = await cp.call(call.Authorize(id_tag="NOT-A-TAG"))
        assert unknown.id_tag_info["status"] == "Invalid", unknown
        print("READY", flush=True)

        id_tag, connector_id = await asyncio.wait_for(cp.remote_start, TIMEOUT_S)
        authorized = await cp.call(call.Authorize(id_tag=id_tag))
        assert authorized.id_tag_info["status"] == "Accepted", authorized

        started_at = datetime.now(timezone.utc).replace(microsecond=0)
        start = await cp.call(
            call.StartTransaction(connector_id=connector_id, id_tag=id_tag, meter_start=1000, timestamp=iso(started_at))
        )
        assert start.id_tag_info["status"] == "Accepted", start
        transaction_id = start.transaction_id
        await cp.call(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[
                    {
                        "timestamp": iso(started_at + timedelta(minutes=10)),
                        "sampledValue": [
                            {"value": "4000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                        ],
                    },
                    {
                        "timestamp": iso(started_at + timedelta(minutes=20)),
                        "sampledValue": [{"value": "6.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}],
                    },
                ],
            )
        )
        stopped_at = started_at + timedelta(minutes=30)
        await cp.call(
            call.StopTransaction(
                meter_stop=8500,
                timestamp=iso(stopped_at),
                transaction_id=transaction_id,
                id_tag=id_tag,
                reason=Reason.local,
            )
        )
        again = await cp.call(call.Authorize(id_tag=id_tag))
        assert again.id_tag_info["status"] == "Invalid", again
        print(f"DONE {transaction_id} {iso(started_at)} {iso(stopped_at)}", flush=True)
        listener.cancel()


async def main():
    base, charge_point_id = sys.argv[1], sys.argv[2]
    await bad_frames(f"{base}/{charge_point_id}-raw")
    await session(f"{base}/{charge_point_id}", charge_point_id)


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), 120))
