#!/usr/bin/env python3
"""Check that a Kafka broker really works: a producer sends and a consumer group reads back.

    python scripts/check_kafka.py [--bootstrap HOST:PORT] [--timeout SECONDS]

Creates a fresh topic, sends one message with an aiokafka producer, reads it with a consumer
in a new consumer group and commits the offset. Exits 0 when all of that worked, 1 otherwise
(with the reason on stderr). The bootstrap address defaults to $KAFKA_BOOTSTRAP_SERVERS, then
127.0.0.1:9092.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid


async def check(bootstrap: str, timeout: float) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    suffix = uuid.uuid4().hex[:12]
    topic = f"broker-check-{suffix}"
    group = f"broker-check-{suffix}"
    payload = f"ping {suffix}".encode()

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload, key=b"check")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def first_message() -> bytes | None:
            async for message in consumer:
                return message.value
            return None

        value = await asyncio.wait_for(first_message(), timeout)
        if value != payload:
            raise RuntimeError(f"read {value!r} back, expected {payload!r}")
        await consumer.commit()
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092",
        help="bootstrap servers, HOST:PORT[,HOST:PORT...] (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the message back"
    )
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(check(args.bootstrap, args.timeout), args.timeout + 30))
    except ImportError:
        print("check_kafka: aiokafka is not installed in this Python.", file=sys.stderr)
        return 1
    except Exception as exc:  # any failure means the broker is not usable
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        print(
            f"check_kafka: broker at {args.bootstrap} failed the check: {reason}", file=sys.stderr
        )
        return 1
    print(f"check_kafka: broker at {args.bootstrap} works (produce, consumer group, commit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
