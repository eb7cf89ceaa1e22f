"""Oracle test of the audit log's hash chain (docs/audit.md#tamper-evidence).

Events with awkward content (non-ASCII and control characters, quotes,
backslashes, NULLs, nested JSON, a session time zone and date style far from
UTC, a TCP client address) are recorded from two connections whose
transactions interleave.  The chain is then recomputed here, independently,
from the documented canonical content with Python's json and hashlib: every
event's hash, every link, the commit order of the chain and the head.
Prints TAP; reads the connection from the libpq environment.
"""
import datetime
import hashlib
import json
import os
import sys

import psycopg2

results = []


def ok(cond, what, diag=None):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + " %d - %s" % (len(results), what))
    if not cond and diag:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()


def canonical(row, chain_seq, prev_hash):
    """The documented canonical content of an event, as bytes."""
    t = row["event_time"].astimezone(datetime.timezone.utc)
    fields = [
        str(row["event_id"]),
        t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond,
        row["action"], row["origin"], row["user_name"], row["session_user_name"],
        row["resource_type"], row["resource_id"], row["details"], row["client_addr"],
        row["application_name"], str(row["transaction_id"]),
        None if chain_seq is None else str(chain_seq),
        None if prev_hash is None else bytes(prev_hash).hex(),
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8")


a = psycopg2.connect("")
a.autocommit = True
ca = a.cursor()
ca.execute("CREATE EXTENSION IF NOT EXISTS mlops")
# the second connection over TCP, so that client_addr is set
b = psycopg2.connect("host=127.0.0.1")
b.autocommit = True
cb = b.cursor()
for cur in (ca, cb):
    cur.execute("SET TimeZone = 'America/St_Johns'")
    cur.execute("SET DateStyle = 'SQL, DMY'")
    cur.execute("SET application_name = %s", ("app\t\"name\"\\ é ✓",))

awkward = [
    ("app.unicode", "report", "ñandú – 雪 – 🧪", {"note": "emoji 🧪 and \u00e9", "n": 1.50, "nested": {"a": [1, None, True]}}),
    ("app.control", "report", "line\nbreak\ttab\x01ctl", {"quote": "\"q\" and \\ back", "\x02key": "v\x1f"}),
    ("app.nulls", "report", None, {}),
    ("app.numbers", "x", "1e400?", {"big": 12345678901234567890, "neg": -0.0, "small": 1e-300}),
]

# interleaved transactions: b logs first but commits last
cb.execute("BEGIN")
cb.execute("SELECT mlops.audit(%s, %s, %s, %s)", ("app.from_b", "session", "b-1", json.dumps({"who": "b"})))
ca.execute("BEGIN")
for action, rtype, rid, details in awkward:
    ca.execute("SELECT mlops.audit(%s, %s, %s, %s)", (action, rtype, rid, json.dumps(details)))
ca.execute("COMMIT")
ca.execute("SELECT mlops.create_experiment(%s, %s, %s)", ("oracle é", "d", json.dumps({"t": "\u2028"})))
cb.execute("SELECT mlops.audit(%s, %s, %s)", ("app.from_b_again", "session", "b-2"))
cb.execute("COMMIT")
ca.execute("SELECT mlops.audit('app.last', 'report', 'z')")

# read back in ISO style (psycopg2 parses it); the events were chained under the settings above
ca.execute("RESET DateStyle")
ca.execute("""SELECT event_id, event_time, action, origin, user_name::text, session_user_name::text,
                     resource_type, resource_id, details::text, client_addr::text, application_name,
                     transaction_id::text, chain_seq, prev_hash, hash
                FROM mlops.audit_log ORDER BY chain_seq""")
cols = [d[0] for d in ca.description]
rows = [dict(zip(cols, r)) for r in ca.fetchall()]

ok(len(rows) == 2 + len(awkward) + 2 and all(r["chain_seq"] is not None for r in rows), "every committed event is chained",
   [(r["event_id"], r["chain_seq"]) for r in rows])
ok([r["chain_seq"] for r in rows] == list(range(1, len(rows) + 1)), "chain positions are 1..N without gaps")

bad = []
prev = None
for r in rows:
    want = hashlib.sha256(canonical(r, r["chain_seq"], prev)).digest()
    if bytes(r["hash"]) != want or (r["prev_hash"] is None) != (prev is None) \
            or (prev is not None and bytes(r["prev_hash"]) != prev):
        bad.append((r["event_id"], canonical(r, r["chain_seq"], prev)))
    prev = bytes(r["hash"])
ok(not bad, "each hash is the SHA-256 of the documented canonical content, linked to the event before it", bad[:3])

order = [r["action"] for r in rows]
ok(order.index("app.from_b") > order.index("app.unicode") and order.index("app.from_b") > order.index("experiment.create"),
   "the chain is in commit order: b's first event follows the events committed before b", order)
ok(any(r["client_addr"] is not None for r in rows) and any(r["client_addr"] is None for r in rows),
   "events with and without a client address are covered")

ca.execute("SELECT event_id, chain_seq, hash FROM mlops.audit_chain_head")
head = ca.fetchone()
ok(head is not None and head[1] == rows[-1]["chain_seq"] and bytes(head[2]) == prev, "the head is the last event")

ca.execute("SELECT mlops.verify_audit_log()")
v = ca.fetchone()[0]
ok(v.get("ok") is True and v.get("events") == len(rows) and v.get("last_hash") == prev.hex(),
   "verify_audit_log agrees", v)

# one character changed anywhere is found, by the server and by this recomputation
ca.execute("BEGIN")
ca.execute("ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only")
victim = rows[3]
ca.execute("UPDATE mlops.audit_log SET resource_id = resource_id || ' ' WHERE event_id = %s", (victim["event_id"],))
ca.execute("SELECT mlops.verify_audit_log()")
v = ca.fetchone()[0]
ca.execute("ROLLBACK")
ok(v.get("ok") is False and v.get("problem") == "edited" and v.get("event_id") == victim["event_id"],
   "an edit of one character is reported at that event", v)

a.close()
b.close()
print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
