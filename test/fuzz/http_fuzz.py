#!/usr/bin/python3
"""http_fuzz.py sends malformed HTTP requests to the mlops HTTP service over
raw sockets and reports what came back.

Usage: http_fuzz.py HOST PORT API_KEY COUNT [SEED]

Each request is built from one of the generators below (broken and deeply
nested JSON, huge numbers, NUL bytes and invalid UTF-8, wrong methods and
content types, oversized, truncated and lying Content-Length bodies,
malformed request lines and headers, garbage credentials), sent on its own
connection with "Connection: close", and its answer (or the server closing
the connection, which libmicrohttpd does for requests it refuses to parse)
is counted; 16 threads send at once.  Meanwhile a few slow clients dribble a request a byte at a
time.  A refused connection means the service is down: it is counted
("refused") and the script exits 1.  It prints one JSON line of counts; the TAP test
(test/t/081_http_fuzz.pl) checks the server afterwards.
"""
import json
import random
import socket
import sys
import threading
import time

HOST, PORT, KEY, COUNT = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
SEED = int(sys.argv[5]) if len(sys.argv) > 5 else 13
rnd = random.Random(SEED)
PATHS = ["/predict", "/predict/batch", "/models/m/predict", "/models/m%2F1/predict", "/model/info?model=m",
         "/model/schema?model=m", "/metrics", "/ready", "/health", "/models//predict", "/models/%00/predict",
         "/predict?" + "a=" * 500, "/" + "x" * 3000, "/predict/../ready", "//predict", "/model/info?model=%ff%fe"]


def creds():
    """creds returns a credential header: mostly the valid key, sometimes garbage."""
    c = rnd.random()
    if c < 0.6:
        return "X-API-Key: %s\r\n" % KEY
    if c < 0.7:
        return "X-API-Key: %s\r\n" % rnd.choice(["", "mlk_", KEY[:-1], KEY + "x", "\x7f" * 300, KEY * 20])
    if c < 0.85:
        return "Authorization: Bearer %s\r\n" % rnd.choice(
            ["", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 9000, "%s.%s.%s" % ("A" * 50, "B" * 50, "C" * 43)])
    return ""


def json_body():
    """json_body returns a malformed or hostile JSON document."""
    k = rnd.randrange(14)
    depth = rnd.choice([10, 100, 1000, 5000, 20000])
    if k == 0:
        return b'{"model": "m", "features": {"x1": 1, "x2"'              # truncated
    if k == 1:
        return ('{"features": ' + "[" * depth + "]" * depth + "}").encode()
    if k == 2:
        return ('{"features": ' + '{"a":' * depth + "1" + "}" * depth + "}").encode()
    if k == 3:
        return b'{"model": "m", "features": {"x1": 1e999999, "x2": -1e400}}'
    if k == 4:
        return b'{"model": "m", "features": {"x1": 123456789012345678901234567890123456789, "x2": 0.' + b"1" * 5000 + b"}}"
    if k == 5:
        return b'{"model": "m\x00", "features": {"x1\x00": 1}}'
    if k == 6:
        return b'{"model": "\xff\xfe\xc3", "features": {}}'
    if k == 7:
        return b'{"model": "m", "features": {"x1": NaN, "x2": Infinity}}'
    if k == 8:
        return json.dumps({"model": "m", "instances": [{"x1": i, "x2": "y" * 10} for i in range(rnd.choice([0, 1, 1001, 3000]))]}).encode()
    if k == 9:
        return json.dumps({"model": rnd.choice(["", "m/999", "m@x", "'; DROP TABLE t; --", "m" * 500, "m/Production"]),
                           "features": {"x1": rnd.random(), "x2": rnd.randint(-10**6, 10**6)}, "user_id": "u" * rnd.choice([1, 5000])}).encode()
    if k == 10:
        return bytes(rnd.randrange(256) for _ in range(rnd.choice([1, 10, 1000])))
    if k == 11:
        return b'"just a string"'
    if k == 12:
        return json.dumps({"model": "m", "features": {"x1": [1, 2], "x2": {"a": None}}, "user_id": 5}).encode()
    return b'{"model": "m", "features": {"x1": 1, "x2": 2}}' * rnd.choice([1, 2])


def request():
    """request returns the bytes of one malformed request."""
    k = rnd.randrange(12)
    path = rnd.choice(PATHS[:4] * 4 + PATHS)
    body = json_body()
    ctype = rnd.choice(["application/json"] * 6 + ["application/json; charset=utf-8", "text/plain", "",
                        "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"])
    method = rnd.choice(["POST"] * 14 + ["GET"] * 3 + ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "BREW", "P\x00ST"])
    head = "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n%s" % (method, path, creds())
    if ctype:
        head += "Content-Type: %s\r\n" % ctype
    if k == 0:                                                  # oversized, declared
        return (head + "Content-Length: %d\r\n\r\n" % (10 ** rnd.choice([6, 9, 15, 30]))).encode() + body
    if k == 1:                                                  # truncated: fewer bytes than declared
        return (head + "Content-Length: %d\r\n\r\n" % (len(body) + 100)).encode() + body
    if k == 2:                                                  # more bytes than declared
        return (head + "Content-Length: 3\r\n\r\n").encode() + body
    if k == 3:                                                  # chunked, sometimes broken
        chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if rnd.random() < 0.5 else b"zz\r\n" + body
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks
    if k == 4:                                                  # malformed request line
        return rnd.choice([b"\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /health HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
                           b"GET /health HTTP/1.1\r\nHost: " + b"h" * 100000 + b"\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                           b"POST /predict HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"POST /predict HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\nxx",
                           b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"])
    if k == 5:                                                  # a big body without Content-Length
        return (head + "\r\n").encode() + b"{" * 70000
    return (head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body


def send(data, counts, r):
    """send sends one request and counts the status (or how the connection ended)."""
    try:
        s = socket.create_connection((HOST, PORT), timeout=10)
    except ConnectionRefusedError:
        counts["refused"] = counts.get("refused", 0) + 1
        return
    try:
        s.sendall(data)
        if r.random() < 0.05:
            s.close()                                           # the client goes away
            counts["client_closed"] = counts.get("client_closed", 0) + 1
            return
        s.shutdown(socket.SHUT_WR) if r.random() < 0.3 else None
        resp = b""
        while len(resp) < 12:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
        status = resp[9:12].decode("ascii", "replace") if resp.startswith(b"HTTP/1.") else "closed"
    except socket.timeout:
        status = "timeout"
    except OSError:
        status = "reset"
    finally:
        s.close()
    counts[status] = counts.get(status, 0) + 1


def slow_client(results):
    """slow_client sends a request one byte every 3 s, slower than the idle timeout (2 s in the
    test): the server must drop it."""
    data = ("POST /predict HTTP/1.1\r\nHost: slow\r\nX-API-Key: %s\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{\"model\": " % KEY).encode()
    s = socket.create_connection((HOST, PORT), timeout=30)
    start = time.time()
    try:
        for i in range(len(data)):
            s.send(data[i:i + 1])
            time.sleep(3.0)
        results.append(("finished", time.time() - start))
    except OSError:
        results.append(("dropped", time.time() - start))
    finally:
        s.close()


def sender(n, seed, counts, lock):
    """sender sends n requests from its own generator and adds its counts."""
    global rnd
    mine = {}
    local = random.Random(seed)
    for _ in range(n):
        with lock:
            rnd = local
            data = request()
        send(data, mine, local)
    with lock:
        for k, v in mine.items():
            counts[k] = counts.get(k, 0) + v


def main():
    counts = {}
    slow = []
    lock = threading.Lock()
    threads = [threading.Thread(target=slow_client, args=(slow,)) for _ in range(5)]
    senders = [threading.Thread(target=sender, args=(COUNT // 16 + (i < COUNT % 16), SEED * 100 + i, counts, lock))
               for i in range(16)]
    for t in threads + senders:
        t.start()
    for t in threads + senders:
        t.join()
    counts["slow_clients_dropped"] = sum(1 for r in slow if r[0] == "dropped")
    counts["requests"] = sum(v for k, v in counts.items() if k != "slow_clients_dropped")
    print(json.dumps(counts, sort_keys=True))
    sys.exit(1 if "refused" in counts else 0)


main()
