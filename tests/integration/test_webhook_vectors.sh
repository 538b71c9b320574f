#!/usr/bin/env bash
# test_webhook_vectors.sh — signatures computed independently, with Python's
# hmac, hashlib and base64, for random secrets and bodies and every provider,
# checked by verify_tool (tests/unit/verify_tool.c, the same
# verify_request/push_parse the server calls). Covers the good signature
# and the ways a delivery can be wrong: wrong secret, one bit flipped in the
# body or the signature, truncated signature, upper-case hex, missing
# headers, empty body, blanks around values; Stripe with several v1 and a
# v0; Standard Webhooks with several signatures; timestamps just inside and
# just outside the tolerance, in both directions. Set BERTH_VECTOR_SEED to
# replay a run; the seed is printed when a check fails.
source "$BERTH_SRC/tests/integration/lib.sh"

TOOL="$BERTH_BUILD/tests/verify_tool"
[ -x "$TOOL" ] || t_fail "verify_tool not built at '$TOOL'"
command -v python3 >/dev/null || t_fail "python3 is needed to compute the vectors"

python3 - "$TOOL" "$T_DIR" "$BERTH_SRC/tests/fixtures/webhooks" <<'PY'
import base64, hashlib, hmac, os, random, string, subprocess, sys

tool, tmp, fixtures = sys.argv[1:4]
seed = int(os.environ.get("BERTH_VECTOR_SEED") or int.from_bytes(os.urandom(4), "big"))
rnd = random.Random(seed)


def fail(what, out):
    sys.stderr.write("FAIL: test_webhook_vectors (seed %d): %s\n%s\n" % (seed, what, out))
    sys.exit(1)


def mac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def rand_text(lo, hi, alphabet=string.ascii_letters + string.digits + string.punctuation):
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(lo, hi)))


def rand_body():
    kind = rnd.randrange(4)
    if kind == 0:
        return b""
    if kind == 1:
        return bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3000)))
    if kind == 2:
        return ('{"ref": "refs/heads/%s", "after": "%s", "note": "%s"}\n' % (
            rand_text(1, 20, string.ascii_lowercase), rnd.randbytes(20).hex(),
            rand_text(0, 200))).encode()
    with open(os.path.join(fixtures, rnd.choice(["github-push.json", "stripe-event.json",
                                                 "gitlab-push.json", "sentry-issue.json"])), "rb") as f:
        return f.read()


def flip_bit(data):
    b = bytearray(data)
    i = rnd.randrange(len(b))
    b[i] ^= 1 << rnd.randrange(8)
    return bytes(b)


class Case:
    """One request for verify_tool --batch and the checks on its outcome."""

    def __init__(self, provider, headers, body, secret, token, now, tolerance, parse):
        req = b"".join(("%s: %s\r\n" % h).encode() for h in headers) + b"\r\n" + body
        sec = None if secret is None else secret if isinstance(secret, bytes) else secret.encode()
        tok = None if token is None else token.encode()
        self.record = ("%s %d %d %d %d %d %d\n" % (
            provider, now, tolerance, parse, -1 if sec is None else len(sec),
            -1 if tok is None else len(tok), len(req))).encode() + (sec or b"") + (tok or b"") + req
        self.provider = provider
        self.secrets = [x for x in (sec, tok) if x is not None and len(x) > 6]
        self.checks = []


cases = []


def run(provider, headers, body, secret=None, token=None, now=0, tolerance=0, parse=False):
    case = Case(provider, headers, body, secret, token, now, tolerance, parse)
    cases.append(case)
    return case


def run_all():
    """One verify_tool process for every case, then every check."""
    data = b"".join(c.record for c in cases)
    p = subprocess.run([tool, "--batch"], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0 or p.stderr:
        fail("verify_tool --batch exited %d" % p.returncode, p.stderr.decode("utf-8", "replace"))
    outputs = p.stdout.split(b"\n\n")[:-1]
    if len(outputs) != len(cases):
        fail("%d outcomes for %d requests" % (len(outputs), len(cases)), "")
    for case, raw in zip(cases, outputs):
        for s in case.secrets:
            if s in raw:
                fail("%s: output contains a secret" % case.provider, raw.decode("utf-8", "replace"))
        out = raw.decode("utf-8", "replace")
        res = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        res["_out"] = out
        for check in case.checks:
            check(int(res.get("exit", "-1")), res)
    return len(cases)


def expect(what, case, status, delivery=None, header=None):
    def check(rc, res):
        if res.get("status") != status or (rc == 0) != (status == "ok"):
            fail("%s: expected %s, got exit %d" % (what, status, rc), res["_out"])
        if delivery is not None and res.get("delivery") != delivery:
            fail("%s: expected delivery %s" % (what, delivery), res["_out"])
        if header is not None and res.get("header") != header:
            fail("%s: expected header %s" % (what, header), res["_out"])
    case.checks.append(check)


def body_key(label, body):
    return "%s:%s" % (label, hashlib.sha256(body).hexdigest())


def hex_provider(provider, header, prefix, delivery_header):
    """GitHub, Gitea/Forgejo, Bitbucket, Sentry: one hex HMAC of the body."""
    secret = rand_text(1, 64)
    body = rand_body()
    sig = mac(secret.encode(), body)
    good = prefix + sig.hex()
    delivery = "%08x-%04x-4%03x-a%03x-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16),
                                                 rnd.getrandbits(12), rnd.getrandbits(12),
                                                 rnd.getrandbits(48))
    key = delivery
    if provider == "sentry":
        delivery = rnd.choice(["issue", "event_alert", "metric_alert", "installation"])
        key = body_key(delivery, body)
    hdrs = [(delivery_header, delivery)]
    w = "%s (body %d bytes)" % (provider, len(body))

    expect(w + " good", run(provider, hdrs + [(header, good)], body, secret), "ok", key)
    expect(w + " upper-case hex", run(provider, hdrs + [(header, prefix + sig.hex().upper())], body, secret), "ok")
    expect(w + " blanks around", run(provider, hdrs + [(header, " \t" + good + " ")], body, secret), "ok")
    expect(w + " no delivery header", run(provider, [(header, good)], body, secret), "ok", body_key("sha256", body))
    expect(w + " wrong secret", run(provider, hdrs + [(header, good)], body, secret + "x"), "bad_signature", header=header)
    if body:
        expect(w + " flipped body bit", run(provider, hdrs + [(header, good)], flip_bit(body), secret), "bad_signature")
    expect(w + " flipped signature bit", run(provider, hdrs + [(header, prefix + flip_bit(sig).hex())], body, secret),
           "bad_signature")
    expect(w + " truncated", run(provider, hdrs + [(header, good[:-rnd.randint(1, 10)])], body, secret),
           "malformed_header", header=header)
    expect(w + " blank inside", run(provider, hdrs + [(header, good[:len(prefix) + 5] + " " + good[len(prefix) + 5:])],
                                    body, secret), "malformed_header")
    expect(w + " missing", run(provider, hdrs, body, secret), "missing_header",
           header="X-Gitea-Signature" if provider == "gitea" else header)
    expect(w + " no secret", run(provider, hdrs + [(header, good)], body), "no_secret")
    if prefix:
        expect(w + " no prefix", run(provider, hdrs + [(header, sig.hex())], body, secret), "malformed_header")
    else:
        expect(w + " prefix", run(provider, hdrs + [(header, "sha256=" + sig.hex())], body, secret), "malformed_header")


def standard_provider(provider):
    """Standard Webhooks: generic, and gitlab with a signing token."""
    raw = rnd.randbytes(rnd.randint(24, 64))
    secret = "whsec_" + base64.b64encode(raw).decode()
    body = rand_body()
    msg_id = "msg_" + rand_text(10, 30, string.ascii_letters + string.digits)
    ts = rnd.randint(1_600_000_000, 1_900_000_000)
    tol = rnd.randint(1, 600)

    def sig(key=raw, mid=msg_id, t=ts, b=body):
        return mac(key, ("%s.%d." % (mid, t)).encode() + b)

    def v1(s):
        return "v1," + base64.b64encode(s).decode()

    def hdrs(sigs, mid=msg_id, t=ts):
        return [("webhook-id", mid), ("webhook-timestamp", str(t)), ("webhook-signature", sigs)]

    good = sig()
    others = [v1(rnd.randbytes(32)) for _ in range(rnd.randint(1, 5))] + \
             ["v1a," + base64.b64encode(rnd.randbytes(64)).decode()]
    w = "%s (body %d bytes, tolerance %d)" % (provider, len(body), tol)

    def check(what, sigs, status, now=ts, h=None, s=secret, b=body):
        expect(w + " " + what, run(provider, h or hdrs(sigs), b, s, now=now, tolerance=tol), status,
               msg_id if status == "ok" else None)

    check("good", v1(good), "ok")
    mixed = others + [v1(good)]
    rnd.shuffle(mixed)
    check("several signatures", "  ".join(mixed), "ok")
    check("without padding", v1(good).rstrip("="), "ok")
    check("only others", " ".join(others), "bad_signature")
    check("just inside (old)", v1(good), "ok", now=ts + tol)
    check("just outside (old)", v1(good), "timestamp", now=ts + tol + 1)
    check("just inside (future)", v1(good), "ok", now=ts - tol)
    check("just outside (future)", v1(good), "timestamp", now=ts - tol - 1)
    check("wrong secret", v1(sig(key=rnd.randbytes(32))), "bad_signature")
    check("other id signed", v1(sig(mid=msg_id + "x")), "bad_signature")
    check("other timestamp signed", v1(sig(t=ts + 1)), "bad_signature")
    if body:
        check("flipped body bit", v1(good), "bad_signature", b=flip_bit(body))
    check("flipped signature bit", v1(flip_bit(good)), "bad_signature")
    check("truncated", v1(good)[:-4], "bad_signature")
    check("no v1", "v2," + base64.b64encode(good).decode(), "malformed_header")
    check("missing id", None, "missing_header", h=hdrs(v1(good))[1:])
    check("missing signature", None, "missing_header", h=hdrs(v1(good))[:2])
    check("bad timestamp", None, "malformed_header", h=hdrs(v1(good), t="%d.0" % ts))
    check("secret not base64", v1(good), "no_secret", s="whsec_" + "*" * 20)


def stripe_provider():
    secret = "whsec_" + rand_text(20, 40, string.ascii_letters + string.digits)
    body = rand_body()
    t = rnd.randint(1_500_000_000, 1_900_000_000)
    tol = rnd.randint(1, 600)

    def sig(key=secret.encode(), b=body, ts=t):
        return mac(key, b"%d." % ts + b)

    good = sig()
    w = "stripe (body %d bytes, tolerance %d)" % (len(body), tol)

    def check(what, header, status, now=t, s=secret, b=body):
        h = [("Stripe-Signature", header)] if header is not None else []
        expect(w + " " + what, run("stripe", h, b, s, now=now, tolerance=tol), status,
               "" if status == "ok" else None)

    check("good", "t=%d,v1=%s" % (t, good.hex()), "ok")
    items = ["v1=" + rnd.randbytes(32).hex() for _ in range(rnd.randint(1, 4))] + \
            ["v1=" + good.hex(), "v0=" + rnd.randbytes(32).hex()]
    rnd.shuffle(items)
    check("several v1 and a v0", ",".join(["t=%d" % t] + items), "ok")
    check("upper-case hex", "t=%d,v1=%s" % (t, good.hex().upper()), "ok")
    check("blanks", " t=%d , v1=%s " % (t, good.hex()), "ok")
    check("only v0", "t=%d,v0=%s" % (t, good.hex()), "malformed_header")
    check("no timestamp", "v1=%s" % good.hex(), "malformed_header")
    check("just inside (old)", "t=%d,v1=%s" % (t, good.hex()), "ok", now=t + tol)
    check("just outside (old)", "t=%d,v1=%s" % (t, good.hex()), "timestamp", now=t + tol + 1)
    check("just inside (future)", "t=%d,v1=%s" % (t, good.hex()), "ok", now=t - tol)
    check("just outside (future)", "t=%d,v1=%s" % (t, good.hex()), "timestamp", now=t - tol - 1)
    check("key is the whole secret", "t=%d,v1=%s" % (t, sig(key=secret[6:].encode()).hex()), "bad_signature")
    check("wrong secret", "t=%d,v1=%s" % (t, good.hex()), "bad_signature", s=secret + "x")
    if body:
        check("flipped body bit", "t=%d,v1=%s" % (t, good.hex()), "bad_signature", b=flip_bit(body))
    check("flipped signature bit", "t=%d,v1=%s" % (t, flip_bit(good).hex()), "bad_signature")
    check("truncated", "t=%d,v1=%s" % (t, good.hex()[:-1]), "bad_signature")
    check("other timestamp signed", "t=%d,v1=%s" % (t, sig(ts=t - 1).hex()), "bad_signature")
    check("missing", None, "missing_header")


def gitlab_token():
    token = rand_text(8, 64)
    body = rand_body()
    w = "gitlab token (body %d bytes)" % len(body)
    uuid = "%032x" % rnd.getrandbits(128)
    expect(w + " good", run("gitlab", [("X-Gitlab-Token", token), ("X-Gitlab-Event-UUID", uuid)], body, token=token),
           "ok", uuid)
    expect(w + " idempotency key first",
           run("gitlab", [("X-Gitlab-Token", token), ("X-Gitlab-Event-UUID", uuid), ("Idempotency-Key", "k" + uuid)],
               body, token=token), "ok", "k" + uuid)
    expect(w + " wrong", run("gitlab", [("X-Gitlab-Token", token[:-1] + chr(ord(token[-1]) ^ 1))], body, token=token),
           "bad_signature")
    expect(w + " prefix", run("gitlab", [("X-Gitlab-Token", token[:-1])], body, token=token), "bad_signature")
    expect(w + " longer", run("gitlab", [("X-Gitlab-Token", token + "a")], body, token=token), "bad_signature")
    expect(w + " missing", run("gitlab", [], body, token=token), "missing_header")


def parse_fixtures():
    """The shared bodies, signed here, read through push_parse."""
    secret = rand_text(8, 40)
    with open(os.path.join(fixtures, "github-push.json"), "rb") as f:
        body = f.read()
    h = [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", "sha256=" + mac(secret.encode(), body).hex())]

    def github(rc, res):
        if rc != 0 or res.get("kind") != "push" or not res.get("ref.0", "").startswith("refs/heads/main main "):
            fail("github-push.json parse", res["_out"])
    run("github", h, body, secret, parse=True).checks.append(github)

    with open(os.path.join(fixtures, "stripe-event.json"), "rb") as f:
        body = f.read()
    t = 1_700_000_000
    h = [("Stripe-Signature", "t=%d,v1=%s" % (t, mac(secret.encode(), b"%d." % t + body).hex()))]

    def stripe(rc, res):
        if rc != 0 or res.get("delivery") != "evt_123" or res.get("event") != "customer.created":
            fail("stripe-event.json parse", res["_out"])
    run("stripe", h, body, secret, now=t, parse=True).checks.append(stripe)


for _ in range(4):
    hex_provider("github", "X-Hub-Signature-256", "sha256=", "X-GitHub-Delivery")
    hex_provider("bitbucket", "X-Hub-Signature", "sha256=", "X-Request-UUID")
    hex_provider("gitea", "X-Gitea-Signature", "", "X-Gitea-Delivery")
    hex_provider("gitea", "X-Forgejo-Signature", "", "X-Forgejo-Delivery")
    hex_provider("sentry", "Sentry-Hook-Signature", "", "Sentry-Hook-Resource")
    standard_provider("generic")
    standard_provider("gitlab")
    stripe_provider()
    gitlab_token()
parse_fixtures()
print("test_webhook_vectors: %d requests checked (seed %d)" % (run_all(), seed))
PY
