#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Write the seed corpora of test/fuzz/corpus/<target>/.

Seeds are real protocol traffic plus inputs built with the protocol's
format.  The real traffic was captured with a small TCP proxy between
psql 15 / pgbench 15 (libpq) and PostgreSQL 15 or pgweir's admin console;
pass such captures as directories of NNN.c2s / NNN.s2c files (client to
server, server to client, one pair per connection):

    make-seeds.py [--pg-captures DIR] [--admin-captures DIR] [OUTDIR]

Without captures only the built seeds are written.  Each target's input
starts with the selector bytes described at the top of its .c file.
"""
import argparse
import base64
import hashlib
import hmac
import os
import ssl
import struct

MAX_SEED = 8192


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def startup(params, version=196608):
    body = b"".join(cstr(k) + cstr(v) for k, v in params) + b"\0"
    return struct.pack("!II", 8 + len(body), version) + body


def query(sql):
    return msg(b"Q", cstr(sql))


def parse(name, sql, types=()):
    return msg(b"P", cstr(name) + cstr(sql) +
               struct.pack("!H", len(types)) +
               b"".join(struct.pack("!I", t) for t in types))


def bind(stmt, params=(), portal=""):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0)
    body += struct.pack("!H", len(params))
    for p in params:
        body += struct.pack("!I", len(p)) + p
    return msg(b"B", body + struct.pack("!H", 0))


def describe(kind, name=""):
    return msg(b"D", kind + cstr(name))


def execute(portal="", rows=0):
    return msg(b"E", cstr(portal) + struct.pack("!I", rows))


def close(kind, name):
    return msg(b"C", kind + cstr(name))


SYNC = msg(b"S")
FLUSH = msg(b"H")
TERM = msg(b"X")


def split_messages(b):
    out, i = [], 0
    while i + 5 <= len(b):
        n = struct.unpack("!I", b[i + 1:i + 5])[0]
        out.append(b[i:i + 1 + n])
        i += 1 + n
    return out


def strip_startup(b):
    """Split a c2s capture: (startup packets, the rest)."""
    i, first = 0, []
    while i + 8 <= len(b):
        n, code = struct.unpack("!II", b[i:i + 8])
        first.append(b[i:i + n])
        i += n
        if code >> 16 == 3:
            break
    return first, b[i:]


def after_login(s2c):
    """The server's stream after the first ReadyForQuery."""
    out, seen = [], False
    for m in split_messages(s2c):
        if seen:
            out.append(m)
        elif m[:1] == b"Z":
            seen = True
    return out


def cap(msgs, limit=MAX_SEED):
    out = b""
    for m in msgs:
        if len(out) + len(m) > limit:
            break
        out += m
    return out


def rewrite_startup(pkt, user, db):
    n, code = struct.unpack("!II", pkt[:8])
    parts = pkt[8:].split(b"\0")
    params = []
    for k, v in zip(parts[0::2], parts[1::2]):
        if not k:
            break
        k, v = k.decode(), v.decode()
        if k == "user":
            v = user
        elif k == "database":
            v = db
        params.append((k, v))
    return startup(params, code)


def client_hello():
    """A real TLS ClientHello asking for ALPN "postgresql"."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["postgresql"])
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outg.read()


class Corpus:
    def __init__(self, root):
        self.root = root
        self.seen = set()

    def add(self, target, name, data):
        if (target, data) in self.seen:
            return
        self.seen.add((target, data))
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


# ---- SCRAM, for fuzz_scram's valid exchanges ----

PW, SALT, ITER = b"pw", b"pgweir-fuzz-salt", 16
CNONCE, SNONCE = "fuzzclientnonce", "fuzzservernonce"


def hm(k, m):
    return hmac.new(k, m, "sha256").digest()


def keys():
    sp = hashlib.pbkdf2_hmac("sha256", PW, SALT, ITER)
    ck, sk = hm(sp, b"Client Key"), hm(sp, b"Server Key")
    return ck, hashlib.sha256(ck).digest(), sk


def b64(b):
    return base64.b64encode(b).decode()


def scram_exchange(gs2, cbind=b"", user=""):
    """client-first, server-first, client-final, server-final."""
    ck, stored, sk = keys()
    nonce = CNONCE + SNONCE
    bare = "n=%s,r=%s" % (user, CNONCE)
    first = gs2 + bare
    sfirst = "r=%s,s=%s,i=%d" % (nonce, b64(SALT), ITER)
    without = "c=%s,r=%s" % (b64(gs2.encode() + cbind), nonce)
    auth = ",".join([bare, sfirst, without]).encode()
    proof = bytes(a ^ b for a, b in zip(ck, hm(stored, auth)))
    final = without + ",p=" + b64(proof)
    sfinal = "v=" + b64(hm(sk, auth))
    return first, sfirst, final, sfinal


def u16(s):
    return struct.pack("!H", len(s))


def scram_seeds(c):
    cbind = bytes([0xc0, 0xff, 0xee, 1, 2, 3] + [0] * 26)
    gs2_plus = "p=tls-server-end-point,,"
    for name, sel, mech, gs2, cb in (
            ("server-plain", 0, "SCRAM-SHA-256", "n,,", b""),
            ("server-y", 0, "SCRAM-SHA-256", "y,,", b""),
            ("server-y-downgrade", 8, "SCRAM-SHA-256", "y,,", b""),
            ("server-plus", 8, "SCRAM-SHA-256-PLUS", gs2_plus, cbind),
            ("server-mock", 4, "SCRAM-SHA-256", "n,,", b"")):
        cf, sf, fin, sfin = scram_exchange(gs2, cb)
        c.add("fuzz_scram", name, bytes([sel]) + cstr(mech) +
              u16(cf) + cf.encode() + fin.encode())
    for name, sel, gs2, cb in (("client-keys", 1, "n,,", b""),
                               ("client-password", 5, "n,,", b""),
                               ("client-plus", 9, gs2_plus, cbind)):
        cf, sf, fin, sfin = scram_exchange(gs2, cb)
        c.add("fuzz_scram", name, bytes([sel]) + u16(sf) + sf.encode() +
              sfin.encode())
    c.add("fuzz_scram", "client-error", bytes([1]) +
          u16("r=" + CNONCE + "x,s=AAAA,i=1") +
          b"r=" + CNONCE.encode() + b"x,s=AAAA,i=1" + b"e=invalid-proof")
    _, stored, sk = keys()
    c.add("fuzz_scram", "secret", bytes([2]) + (
        "SCRAM-SHA-256$%d:%s$%s:%s" % (ITER, b64(SALT), b64(stored),
                                        b64(sk))).encode())
    c.add("fuzz_scram", "secret-pg15", bytes([2]) +
          b"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$"
          b"Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
          b"hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=")
    c.add("fuzz_scram", "mechanisms", bytes([3]) +
          b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")
    c.add("fuzz_scram", "mechanisms-one", bytes([3]) + b"SCRAM-SHA-256\0\0")


# ---- fuzz_config ----

def config_seeds(c, srcdir):
    def read(p):
        with open(os.path.join(srcdir, p), "rb") as f:
            return f.read()
    c.add("fuzz_config", "example-ini", b"\0" + read("etc/pgweir.ini"))
    c.add("fuzz_config", "userlist", b"\1" + read("etc/userlist.txt"))
    c.add("fuzz_config", "hba", b"\2" + read("test/data/hba.conf"))
    c.add("fuzz_config", "databases", b"\0" + b"""[databases]
db1 = host=127.0.0.1 port=5432 dbname=real user=u password='p w\\'x'
db2 = host=/var/run/postgresql pool_size=5 pool_mode=transaction \
 max_db_connections=10 connect_query='SELECT 1' application_name=app
"quoted db" = host=::1 port=6432 client_encoding=UTF8 datestyle=ISO \
 timezone=UTC auth_user=au auth_dbname=postgres
* = host=localhost
[users]
alice = pool_mode=session max_user_connections=3 query_timeout=10
"bob smith" = pool_size=2 reserve_pool_size=1
[pgweir]
listen_addr = *
listen_port = 6432
auth_type = scram-sha-256
auth_file = /etc/pgweir/userlist.txt
pool_mode = transaction
max_prepared_statements = 100
default_pool_size = 20
server_lifetime = 3600
query_wait_timeout = 1.5
admin_users = admin, root
track_extra_parameters = search_path, IntervalStyle
ignore_startup_parameters = extra_float_digits,options
client_tls_sslmode = disable
; comment
# comment
""")
    c.add("fuzz_config", "bad-key", b"\0[pgweir]\ndefault_pool_sise = 3\n"
          b"%include other.ini\nnot a key line\n")
    c.add("fuzz_config", "all-three", b"\3" + b"\"alice\" \"pw\"\n"
          b"local all all trust\n[pgweir]\nauth_type = hba\n")
    c.add("fuzz_config", "hba-forms", b"\2" + b"""
host all all 10.0.0.0 255.0.0.0 md5
hostnossl "db,x" +group,@users 192.168.0.0/16 password
host all all all scram-sha-256
host replication all ::/0 reject
local all all peer map=m
hostssl all all 0.0.0.0/0 cert clientcert=verify-full \\
    map="x y"
""")


# ---- fuzz_startup ----

def startup_seeds(c, pg):
    hello = client_hello()
    st = startup([("user", "u1"), ("database", "db"),
                  ("application_name", "psql"),
                  ("client_encoding", "UTF8")])
    q = query("SELECT 1")
    c.add("fuzz_startup", "trust", b"\x00\x00" + st + q + TERM)
    c.add("fuzz_startup", "trust-bytewise", b"\x00\x01" + st + q + TERM)
    c.add("fuzz_startup", "sslrequest",
          b"\x10\x08" + struct.pack("!II", 8, 80877103) + st + q + TERM)
    c.add("fuzz_startup", "sslrequest-stuffed",
          b"\x10\x00" + struct.pack("!II", 8, 80877103) + st)
    c.add("fuzz_startup", "gssencrequest",
          b"\x00\x08" + struct.pack("!II", 8, 80877104) + st + q + TERM)
    c.add("fuzz_startup", "cancel", b"\x00\x00" +
          struct.pack("!IIII", 16, 80877102, 1, 0x12345678))
    c.add("fuzz_startup", "direct-tls", b"\x10\x00" + hello)
    c.add("fuzz_startup", "protocol-3.2", b"\x00\x00" + startup(
        [("user", "u1"), ("database", "db"), ("_pq_.command_marker", "1"),
         ("_pq_.other", "x")], (3 << 16) | 2) + q)
    c.add("fuzz_startup", "protocol-2", b"\x00\x00" + startup(
        [("user", "u1")], 2 << 16))
    c.add("fuzz_startup", "options", b"\x00\x00" + startup(
        [("user", "u1"), ("database", "db"),
         ("options", "-c search_path=x --work_mem=1MB -c a\\ b=c"),
         ("DateStyle", "ISO"), ("TimeZone", "UTC")]) + q)
    c.add("fuzz_startup", "replication", b"\x00\x00" + startup(
        [("user", "u1"), ("database", "db"), ("replication", "database")]))
    c.add("fuzz_startup", "unknown-param", b"\x00\x00" + startup(
        [("user", "u1"), ("database", "db"), ("nosuch", "1")]))
    c.add("fuzz_startup", "no-such-db", b"\x00\x00" + startup(
        [("user", "u1"), ("database", "nodb")]))
    # password methods: the startup goes alone, the answer in the next piece
    alice = startup([("user", "alice"), ("database", "db")])
    plain = b"\x01" + bytes([len(alice)]) + alice + msg(b"p", cstr("pw")) + q
    c.add("fuzz_startup", "password-plain", plain)
    bob = startup([("user", "bob"), ("database", "db")])
    c.add("fuzz_startup", "password-md5", b"\x02" + bytes([len(bob)]) + bob +
          msg(b"p", cstr("md5" + "0" * 32)) + q)
    carol = startup([("user", "carol"), ("database", "db")])
    cf = b"n,,n=,r=" + CNONCE.encode()
    sasl = msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!I", len(cf)) + cf)
    fin = msg(b"p", b"c=biws,r=" + CNONCE.encode() + b"xx,p=" +
              base64.b64encode(bytes(32)))
    c.add("fuzz_startup", "password-scram", b"\x03" + bytes([len(carol)]) +
          carol + sasl + fin)
    c.add("fuzz_startup", "password-scram-unknown", b"\x03" +
          bytes([len(st)]) + startup([("user", "nobody"),
                                      ("database", "db")]) + sasl + fin)
    c.add("fuzz_startup", "hba-local", b"\x0c\x00" + st + q)
    c.add("fuzz_startup", "hba-scram", b"\x04" + bytes([len(alice)]) +
          alice + sasl + fin)
    c.add("fuzz_startup", "hba-password", b"\x04" + bytes([len(carol)]) +
          carol + msg(b"p", cstr("pw")) + q)
    c.add("fuzz_startup", "admin-unix", b"\x08\x00" + startup(
        [("user", "admin"), ("database", "pgweir")]) + query("SHOW POOLS"))
    c.add("fuzz_startup", "pg-mute", b"\x80\x00" + st + q)
    for name, (c2s, s2c) in sorted(pg.items()):
        first, rest = strip_startup(c2s)
        real = b"".join(first)
        ours = b"".join(rewrite_startup(p, "u1", "db")
                        if struct.unpack("!I", p[4:8])[0] >> 16 == 3 else p
                        for p in first)
        body = cap([m for m in split_messages(rest) if m[:1] != b"p"], 2048)
        c.add("fuzz_startup", "cap-" + name, b"\x00\x00" + ours + body)
        c.add("fuzz_startup", "cap-raw-" + name, b"\x00\x00" + real + body)


# ---- fuzz_client_stream ----

def client_stream_seeds(c, pg):
    s = [
        ("simple", query("SELECT 1") + query("BEGIN") +
         query("SELECT 2") + query("COMMIT")),
        ("extended-unnamed", parse("", "SELECT $1", [23]) +
         bind("", [b"42"]) + describe(b"P") + execute() + SYNC),
        ("prepared-named", parse("s1", "SELECT 1") + describe(b"S", "s1") +
         SYNC + bind("s1") + execute() + SYNC + bind("s1") + execute() +
         SYNC + close(b"S", "s1") + SYNC + bind("s1") + execute() + SYNC),
        ("prepared-many", b"".join(parse("s%d" % i, "SELECT %d" % i) +
                                   bind("s%d" % i) + execute() + SYNC
                                   for i in range(6)) +
         bind("s0") + execute() + SYNC),
        ("prepared-reuse-name", parse("s1", "SELECT 1") +
         parse("s1", "SELECT 2") + SYNC + bind("s1") + execute() + SYNC),
        ("prepared-error", parse("s1", "SELECT error") + bind("s1") +
         execute() + SYNC + parse("s1", "SELECT 1") + SYNC),
        ("deallocate", parse("s1", "SELECT 1") + SYNC +
         query("DEALLOCATE ALL") + bind("s1") + execute() + SYNC +
         query("DISCARD ALL")),
        ("copy-in", query("COPY t FROM STDIN") + msg(b"d", b"1\tx\n") +
         msg(b"d", b"2\ty\n") + msg(b"c") + query("SELECT 1")),
        ("copy-fail", query("COPY t FROM STDIN") + msg(b"d", b"1\n") +
         msg(b"f", cstr("stop")) + query("SELECT 1")),
        ("copy-extended", parse("", "COPY t FROM STDIN") + bind("") +
         execute() + SYNC + msg(b"d", b"1\n") + msg(b"c") + SYNC),
        ("copy-out", query("COPY t TO STDOUT")),
        ("transaction-statement-mode", query("BEGIN") + query("SELECT 1") +
         query("COMMIT")),
        ("pipeline", parse("", "SELECT 1") + bind("") + execute() +
         parse("p2", "SELECT 2") + bind("p2") + execute() + FLUSH +
         parse("", "SELECT error") + bind("") + execute() + SYNC +
         query("SELECT 3")),
        ("function-call", msg(b"F", struct.pack("!IHHI", 1234, 0, 1, 1) +
                              b"7" + struct.pack("!H", 0)) +
         query("SELECT 1")),
        ("big-result", query("SELECT big") + query("SELECT 1")),
        ("notice-notify", query("SELECT notice") + query("SELECT notify")),
        ("set-params", query("SET application_name = 'x'") +
         query("SELECT pg_catalog.set_config('TimeZone', 'UTC', false)")),
        ("unnamed-describe-close", parse("", "SELECT 1") +
         describe(b"S", "") + close(b"S", "") + close(b"P", "") + SYNC),
        ("terminate", query("SELECT 1") + TERM),
    ]
    confs = [0x00, 0x01, 0x02, 0x05, 0x06, 0x0d, 0x15, 0x25, 0x45, 0x1d]
    for i, (name, stream) in enumerate(s):
        conf = confs[i % len(confs)]
        c.add("fuzz_client_stream", name, bytes([conf, 0]) + stream)
        c.add("fuzz_client_stream", name + "-ps", bytes([0x05, 0]) + stream)
    c.add("fuzz_client_stream", "prepared-bytewise",
          bytes([0x05, 1]) + s[2][1])
    c.add("fuzz_client_stream", "two-clients-cancel",
          bytes([0x1d, 0x40 | 20]) + query("BEGIN") + query("SELECT 1") +
          query("SELECT 2") + query("COMMIT"))
    c.add("fuzz_client_stream", "slow-big", bytes([0x01, 0x80]) +
          query("SELECT big") + query("SELECT big"))
    # the first client hangs up mid-message; the next must be served
    c.add("fuzz_client_stream", "hangup-in-copy", bytes([0x11, 0x20]) +
          query("COPY t FROM STDIN") + msg(b"d", b"1\tx\n") +
          b"d" + struct.pack("!I", 100) + b"2\t")
    c.add("fuzz_client_stream", "hangup-in-transaction",
          bytes([0x15, 0x20]) + query("BEGIN") + parse("s1", "SELECT 1") +
          bind("s1") + execute() + SYNC)
    for name, (c2s, s2c) in sorted(pg.items()):
        _, rest = strip_startup(c2s)
        body = cap([m for m in split_messages(rest) if m[:1] != b"p"])
        if len(body) > 20:
            c.add("fuzz_client_stream", "cap-" + name, bytes([0x05, 0]) +
                  body)
            c.add("fuzz_client_stream", "cap-session-" + name,
                  bytes([0x00, 0]) + body)


# ---- fuzz_server_stream ----

def rfq(s):
    return msg(b"Z", s)


def cc(tag):
    return msg(b"C", cstr(tag))


ROWDESC = msg(b"T", struct.pack("!H", 1) + cstr("x") +
              struct.pack("!IHIhih", 0, 0, 25, -1, -1, 0))
ROW = msg(b"D", struct.pack("!HI", 1, 1) + b"1")


def error(code, text, sev="ERROR"):
    return msg(b"E", b"S" + cstr(sev) + b"V" + cstr(sev) + b"C" +
               cstr(code) + b"M" + cstr(text) + b"\0")


def pstatus(k, v):
    return msg(b"S", cstr(k) + cstr(v))


def server_stream_seeds(c, pg):
    sel = ROWDESC + ROW + cc("SELECT 1")
    answers = {
        0: [sel + rfq(b"I")] * 3,
        1: [cc("BEGIN") + rfq(b"T"), sel + rfq(b"T"),
            cc("UPDATE 1") + rfq(b"T"), cc("COMMIT") + rfq(b"I")],
        2: [msg(b"1") + msg(b"2") + ROWDESC + ROW + cc("SELECT 1") +
            rfq(b"I")] * 3,
        3: [msg(b"1") + msg(b"2") + ROWDESC + ROW + cc("SELECT 1") +
            rfq(b"I"), msg(b"2") + ROWDESC + ROW + cc("SELECT 1") +
            rfq(b"I")],
        4: [msg(b"G", b"\0\0\1\0\0"), b"", cc("COPY 2") + rfq(b"I")],
        5: [(msg(b"1") + msg(b"2") + ROWDESC + ROW + cc("SELECT 1")) * 3 +
            rfq(b"I")],
        6: [cc("DISCARD ALL") + rfq(b"I"), sel + sel + rfq(b"I")],
        7: [msg(b"V", struct.pack("!I", 1) + b"7") + rfq(b"I")],
    }
    for w, steps in answers.items():
        for conf in ((0x05, 0x00) if w % 2 else (0x01, 0x02)):
            stream = b"".join(steps)
            size = len(steps[0]) if len(steps[0]) < 256 else 0
            c.add("fuzz_server_stream", "w%d-%02x" % (w, conf),
                  bytes([conf, size, w]) + stream)
    c.add("fuzz_server_stream", "error-extended", bytes([0x05, 0, 3]) +
          error("42601", "syntax error") + rfq(b"I"))
    c.add("fuzz_server_stream", "async", bytes([0x01, 0, 0]) +
          pstatus("application_name", "x") +
          msg(b"N", b"SNOTICE\0Mhi\0\0") +
          msg(b"A", struct.pack("!I", 7) + cstr("ch") + cstr("p")) + sel +
          rfq(b"I") + error("57P01", "terminating connection", "FATAL"))
    c.add("fuzz_server_stream", "copy-both", bytes([0x00, 0, 0]) +
          msg(b"W", b"\0\0\0") + msg(b"d", b"xx"))
    c.add("fuzz_server_stream", "copy-out", bytes([0x01, 0, 0]) +
          msg(b"H", b"\0\0\1\0\0") + msg(b"d", b"1\n") + msg(b"c") +
          cc("COPY 1") + rfq(b"I"))
    c.add("fuzz_server_stream", "bytewise", bytes([0x05, 1, 3]) +
          b"".join(answers[3]))
    login = (msg(b"R", struct.pack("!I", 0)) +
             pstatus("server_version", "15.18") +
             pstatus("client_encoding", "UTF8") +
             msg(b"K", struct.pack("!II", 4242, 99)) + rfq(b"I"))
    c.add("fuzz_server_stream", "login-ok", bytes([0x09, 0, 0]) + login +
          sel + rfq(b"I"))
    c.add("fuzz_server_stream", "login-md5", bytes([0x09, 0, 0]) +
          msg(b"R", struct.pack("!I", 5) + b"salt") + login)
    c.add("fuzz_server_stream", "login-cleartext", bytes([0x09, 0, 0]) +
          msg(b"R", struct.pack("!I", 3)) + login)
    c.add("fuzz_server_stream", "login-scram", bytes([0x09, 0, 0]) +
          msg(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\0\0") +
          msg(b"R", struct.pack("!I", 11) + b"r=abc,s=AAAA,i=16") + login)
    c.add("fuzz_server_stream", "login-error", bytes([0x09, 0, 0]) +
          error("28P01", "password authentication failed", "FATAL"))
    c.add("fuzz_server_stream", "login-negotiate", bytes([0x09, 0, 0]) +
          msg(b"v", struct.pack("!II", 0, 1) + cstr("_pq_.x")) + login)
    shapes = set()
    for name, (c2s, s2c) in sorted(pg.items()):
        msgs = split_messages(s2c)
        shape = b"".join(m[:1] for m in msgs)
        if shape in shapes:
            continue  # the same conversation again (pgbench's checks)
        shapes.add(shape)
        body = cap(after_login(s2c))
        if body:
            c.add("fuzz_server_stream", "cap-" + name, bytes([0x01, 0, 0]) +
                  body)
        full = cap(msgs)
        if full[:1] == b"R":
            c.add("fuzz_server_stream", "cap-login-" + name,
                  bytes([0x09, 0, 0]) + full)


# ---- fuzz_admin ----

def admin_seeds(c, admin):
    cmds = ["SHOW HELP", "SHOW POOLS", "SHOW STATS", "SHOW CLIENTS",
            "SHOW SERVERS", "SHOW CONFIG", "SHOW DATABASES", "SHOW USERS",
            "SHOW LISTS", "SHOW MEM", "SHOW FDS", "SHOW VERSION",
            "SHOW STATE", "SHOW TOTALS", "SHOW LATENCY", "SHOW STATS_TOTALS",
            "SHOW STATS_AVERAGES", "SHOW SOCKETS", "SHOW DNS_HOSTS",
            "SHOW server_version", "SELECT 1", "show pools;show stats"]
    c.add("fuzz_admin", "show-all", b"\x04\x00" +
          b"".join(query(q) for q in cmds))
    c.add("fuzz_admin", "show-stats-user", b"\x02\x00" +
          b"".join(query(q) for q in cmds[:6]))
    ctl = ["PAUSE db", "RESUME db", "PAUSE", "RESUME", "DISABLE db",
           "ENABLE db", "RECONNECT db", "RECONNECT", "WAIT_CLOSE db",
           "SUSPEND", "RESUME", "KILL db", "RESUME", "KILL_CLIENT 1",
           "RELOAD", "SET default_pool_size = 3",
           "SET server_reset_query = 'DISCARD ALL'",
           "SET application_name TO 'x'", "SET nosuch = 1",
           "SHOW POOLS; PAUSE; RESUME"]
    c.add("fuzz_admin", "control", b"\x0c\x00" +
          b"".join(query(q) for q in ctl))
    c.add("fuzz_admin", "control-tcp-admin", b"\x0d\x00" +
          b"".join(query(q) for q in ctl))
    c.add("fuzz_admin", "control-stats-user", b"\x0e\x00" +
          b"".join(query(q) for q in ctl[:5]))
    c.add("fuzz_admin", "shutdown", b"\x04\x00" +
          query("SHUTDOWN WAIT_FOR_CLIENTS") + query("SHOW POOLS") +
          query("SHUTDOWN"))
    ext = (parse("", "SHOW POOLS") + bind("") + describe(b"P") +
           execute() + SYNC + parse("s1", "SHOW STATS") +
           describe(b"S", "s1") + bind("s1") + execute() + SYNC +
           parse("", "PAUSE db") + bind("") + execute() + SYNC +
           bind("nosuch") + execute() + SYNC + close(b"S", "s1") + SYNC +
           parse("", "SELECT $1", [23]) + SYNC + FLUSH)
    c.add("fuzz_admin", "extended", b"\x0c\x00" + ext)
    c.add("fuzz_admin", "extended-bytewise", b"\x00\x01" + ext)
    c.add("fuzz_admin", "pgbouncer-alias", b"\x40\x00" + query("SHOW POOLS"))
    c.add("fuzz_admin", "bad", b"\x00\x00" + query("") + query("   ") +
          query("SHOW") + query('SHOW "x') + query("SET a = 'b") +
          query("a b c d e") + msg(b"d", b"x") + query("SHOW POOLS"))
    for name, (c2s, s2c) in sorted(admin.items()):
        first, rest = strip_startup(c2s)
        if b"pgweir" not in b"".join(first):
            continue
        body = cap([m for m in split_messages(rest) if m[:1] != b"p"])
        c.add("fuzz_admin", "cap-" + name, b"\x0c\x00" + body)


# ---- fuzz_files: byte 0 picks the file (0 ini, 1 auth_file, 2 hba) ----

def files_seeds(c, srcdir):
    def read(p):
        with open(os.path.join(srcdir, p), "rb") as f:
            return f.read()
    ini = read("etc/pgweir.ini")
    c.add("fuzz_files", "example-ini", b"\0" + b"".join(
        line + b"\n" for line in ini.split(b"\n") if b"/" not in line))
    c.add("fuzz_files", "ini-include", b"\0[databases]\n* = host=x\n"
          b"[pgweir]\n%include fuzz.auth\nauth_type = md5\n")
    c.add("fuzz_files", "userlist", b"\1" + read("etc/userlist.txt"))
    c.add("fuzz_files", "userlist-forms", b"\1\"alice\" \"pw\"\n"
          b"\"b\"\"q\" \"md59e8b47dd245ed6fdb3fd1657224800c4\"\n"
          b";comment\n\"alice\" \"SCRAM-SHA-256$16:cGQ=$AA==:AA==\"\n")
    c.add("fuzz_files", "hba", b"\2" + read("test/data/hba.conf"))
    c.add("fuzz_files", "hba-include", b"\2host all @fuzz.auth 0.0.0.0/0 "
          b"md5\nlocal all all trust\n")


# ---- fuzz_metrics: byte 0 = named clients | piece size << 2 | GET << 6 ----

def metrics_seeds(c):
    get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    c.add("fuzz_metrics", "get", b"\x00" + get)
    c.add("fuzz_metrics", "get-named", b"\x02" + b"db\0u1\0"
          b"we\"ird\\db\nx\0us\"er\0" + get)
    c.add("fuzz_metrics", "get-pieces", b"\x0c" + get + get)
    c.add("fuzz_metrics", "others", b"\x00POST /metrics HTTP/1.0\r\n"
          b"Content-Length: 3\r\n\r\nabc")
    c.add("fuzz_metrics", "not-found", b"\x41db\0u1\0GET /x HTTP/1.0\r\n\r\n")


# ---- fuzz_two_clients: byte 0 = options, then one byte per operation ----

def two_clients_seeds(c):
    def op(kind, client, turn=True, flag=False):
        return bytes([(kind << 2) | client | (2 if turn else 0) |
                      (128 if flag else 0)])
    Q, BEGIN, COMMIT, BIG, EXT, NAMED, PIPE, SYNC, COPY, CANCEL, HANGUP, \
        RAW = range(12)
    tx = (op(BEGIN, 0) + op(BEGIN, 1) + op(Q, 0) + op(Q, 1) +
          op(COMMIT, 0) + op(COMMIT, 1))
    c.add("fuzz_two_clients", "transactions", b"\x00" + tx)
    c.add("fuzz_two_clients", "no-turns", b"\x00" + bytes(
        b & ~2 for b in tx))
    c.add("fuzz_two_clients", "big-and-hangup", b"\x00" + op(BIG, 0, False) +
          op(Q, 1) + op(HANGUP, 0) + op(Q, 1) + op(Q, 0))
    c.add("fuzz_two_clients", "extended", b"\x04" + op(EXT, 0) +
          op(NAMED, 1) + op(PIPE, 0, False, True) + op(NAMED, 1) +
          op(SYNC, 0) + op(NAMED, 0))
    c.add("fuzz_two_clients", "errors-cancel", b"\x18" + op(Q, 0, False) +
          op(CANCEL, 0) + op(EXT, 1) + op(Q, 1) + op(Q, 0))
    c.add("fuzz_two_clients", "copy", b"\x00" + op(COPY, 0, False) +
          op(Q, 1) + op(COPY, 0, True, True) + op(Q, 0))
    c.add("fuzz_two_clients", "raw", b"\x00" + op(RAW, 0, False) +
          bytes([14]) + query("SELECT 1") + op(Q, 1) + op(RAW, 0) +
          bytes([5]) + msg(b"S"))
    c.add("fuzz_two_clients", "session-slow", b"\x21" + op(BIG, 0) +
          op(Q, 1) + op(HANGUP, 0) + op(Q, 1))


def load(d):
    out = {}
    if not d:
        return out
    for f in sorted(os.listdir(d)):
        if f.endswith(".c2s"):
            n = f[:-4]
            with open(os.path.join(d, f), "rb") as a, \
                    open(os.path.join(d, n + ".s2c"), "rb") as b:
                out[n] = (a.read(), b.read())
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-captures")
    ap.add_argument("--admin-captures")
    ap.add_argument("outdir", nargs="?", default=os.path.join(here, "corpus"))
    a = ap.parse_args()
    c = Corpus(a.outdir)
    pg, admin = load(a.pg_captures), load(a.admin_captures)
    for n, (c2s, s2c) in admin.items():
        if b"pgweir" not in b"".join(strip_startup(c2s)[0]):
            pg["pgw-" + n] = (c2s, s2c)
    scram_seeds(c)
    config_seeds(c, os.path.join(here, "..", ".."))
    startup_seeds(c, pg)
    client_stream_seeds(c, pg)
    server_stream_seeds(c, pg)
    admin_seeds(c, admin)
    files_seeds(c, os.path.join(here, "..", ".."))
    metrics_seeds(c)
    two_clients_seeds(c)


if __name__ == "__main__":
    main()
