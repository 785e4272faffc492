"""Prints how many telegrams per second dsmr-parser parses (with CRC check) on one core.

Usage: bench_dsmr_parser.py SECONDS < telegram
"""
import sys
import time

from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser


def main():
    seconds = float(sys.argv[1])
    telegram = sys.stdin.buffer.read().decode("ascii")
    parser = TelegramParser(telegram_specifications.V5)
    assert len(parser.parse(telegram)) > 20, "the telegram did not parse"
    count = 0
    start = time.perf_counter()
    while True:
        for _ in range(20):
            parser.parse(telegram)
        count += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    print(count / elapsed)


if __name__ == "__main__":
    main()
