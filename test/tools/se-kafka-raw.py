#!/usr/bin/env python3
"""se-kafka-raw.py -- the test rig's raw Kafka protocol client.

The embedded broker (librdkafka's mock cluster) accepts transactional
producers but writes no transaction markers when they commit, so tests of what
a consumer does at a COMMIT or ABORT control record append those records
themselves, as a raw Produce of a control batch -- what a real broker writes
at the end of a transaction.  The mock stores record batches as they come.

  se-kafka-raw.py txn     --brokers B --topic T --partition P --count N [--abort] [--pid ID]
        append one transactional batch of N JSON messages {"device_id": "txn", "seq": i}
        from producer id ID, then its COMMIT (or ABORT) marker
  se-kafka-raw.py marker  --brokers B --topic T --partition P [--abort] [--pid ID]
        append a COMMIT (or ABORT) control record only
  se-kafka-raw.py record  --brokers B --topic T --partition P --payload TEXT [--header NAME[=HEX]]...
        append one plain message with headers whose values are given in hex (the exact
        bytes, NUL included); NAME alone is a header without value (null)
  se-kafka-raw.py end     --brokers B --topic T --partitions N
        print "partition end_offset" per partition (ListOffsets, latest)
  se-kafka-raw.py committed --brokers B --group G --topic T --partitions N
        print "partition committed_offset" per partition (OffsetFetch; -1: none)

Every request goes to the first bootstrap broker: use a one-broker cluster.
Prints what it appended ("appended N records at offset O") on stderr.
"""
import argparse
import socket
import struct
import sys
import time

CONTROL = 0x20
TRANSACTIONAL = 0x10


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def kstr(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def record(offset_delta, key, value, ts_delta=0, headers=()):
    body = bytes([0]) + varint(ts_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for name, hval in headers:
        body += varint(len(name)) + name
        body += varint(-1) if hval is None else varint(len(hval)) + hval
    return varint(len(body)) + body


def record_batch(records, attributes, pid, epoch, base_seq):
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", attributes, len(records) - 1, now, now,
                            pid, epoch, base_seq, len(records)) + b"".join(records)
    crc = crc32c(after_crc)
    after_len = struct.pack(">ibI", 0, 2, crc) + after_crc  # partition leader epoch, magic
    return struct.pack(">qi", 0, len(after_len)) + after_len


class Conn:
    def __init__(self, brokers):
        host, port = brokers.split(",")[0].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.corr = 0

    def request(self, api_key, version, body):
        self.corr += 1
        msg = struct.pack(">hhi", api_key, version, self.corr) + kstr("se-kafka-raw") + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self._read(4))[0]
        resp = self._read(size)
        corr = struct.unpack(">i", resp[:4])[0]
        if corr != self.corr:
            sys.exit("se-kafka-raw: answer to request %d, not %d" % (corr, self.corr))
        return Reader(resp[4:])

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                sys.exit("se-kafka-raw: connection closed")
            buf += chunk
        return buf


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s


def produce(conn, topic, partition, batch):
    body = kstr(None) + struct.pack(">hi", -1, 10000) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(batch)) + batch
    r = conn.request(0, 3, body)
    for _ in range(r.take(">i")):
        r.string()
        for _ in range(r.take(">i")):
            _, err, base, _ = r.take(">ihqq")
            if err:
                sys.exit("se-kafka-raw: produce to %s [%d] failed: error %d" % (topic, partition, err))
            return base


def marker_batch(abort, pid, epoch):
    key = struct.pack(">hh", 0, 0 if abort else 1)  # version, type (0 abort, 1 commit)
    value = struct.pack(">hi", 0, 0)                # version, coordinator epoch
    return record_batch([record(0, key, value)], CONTROL | TRANSACTIONAL, pid, epoch, -1)


def main():
    ap = argparse.ArgumentParser(description="raw Kafka requests for the test rig")
    ap.add_argument("command", choices=["txn", "marker", "record", "end", "committed"])
    ap.add_argument("--payload", default="{}")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partition", type=int, default=0)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--abort", action="store_true")
    ap.add_argument("--pid", type=int, default=4242)
    ap.add_argument("--group")
    a = ap.parse_args()
    conn = Conn(a.brokers)

    if a.command == "record":
        hdrs = []
        for h in a.header:
            name, eq, val = h.partition("=")
            hdrs.append((name.encode(), bytes.fromhex(val) if eq else None))
        rec = record(0, None, a.payload.encode(), headers=hdrs)
        base = produce(conn, a.topic, a.partition, record_batch([rec], 0, -1, -1, -1))
        print("appended a message with %d headers at offset %d" % (len(hdrs), base), file=sys.stderr)
    elif a.command in ("txn", "marker"):
        if a.command == "txn":
            recs = [record(i, None, ('{"device_id": "txn", "seq": %d}' % i).encode()) for i in range(a.count)]
            base = produce(conn, a.topic, a.partition, record_batch(recs, TRANSACTIONAL, a.pid, 0, 0))
            print("appended %d transactional records at offset %d" % (a.count, base), file=sys.stderr)
        base = produce(conn, a.topic, a.partition, marker_batch(a.abort, a.pid, 0))
        print("appended a %s marker at offset %d" % ("ABORT" if a.abort else "COMMIT", base), file=sys.stderr)
    elif a.command == "end":
        body = struct.pack(">ii", -1, 1) + kstr(a.topic) + struct.pack(">i", a.partitions)
        for p in range(a.partitions):
            body += struct.pack(">iq", p, -1)
        r = conn.request(2, 1, body)
        for _ in range(r.take(">i")):
            r.string()
            for _ in range(r.take(">i")):
                p, err, _, off = r.take(">ihqq")
                if err:
                    sys.exit("se-kafka-raw: list offsets of %s [%d] failed: error %d" % (a.topic, p, err))
                print(p, off)
    else:
        if not a.group:
            sys.exit("se-kafka-raw: committed needs --group")
        body = kstr(a.group) + struct.pack(">i", 1) + kstr(a.topic) + struct.pack(">i", a.partitions)
        for p in range(a.partitions):
            body += struct.pack(">i", p)
        r = conn.request(9, 1, body)
        for _ in range(r.take(">i")):
            r.string()
            for _ in range(r.take(">i")):
                p, off = r.take(">iq")
                r.string()
                err = r.take(">h")
                if err:
                    sys.exit("se-kafka-raw: offset fetch of %s [%d] failed: error %d" % (a.topic, p, err))
                print(p, off)


if __name__ == "__main__":
    main()
