"""The HTTP side of .ci/backup/pg-drill (standard library only; 127.0.0.1 only).

    drill_http.py wait  BASE PID SECS         poll BASE/readyz until 200 (exit 1 if PID dies or SECS pass)
    drill_http.py load  BASE STATE BETS       register, log in, claim, place BETS dice bets; write STATE (JSON)
    drill_http.py check BASE STATE BALANCE    the restored instance: the backed-up session still works,
                                              GET /v1/wallets shows BALANCE, every bet id is readable
    drill_http.py ok    REPORT                a verify-restore report (JSON file) says "ok": true
    drill_http.py get   STATE KEY             print one value of STATE (a list one item a line)

Every failure exits non-zero with one line naming the step."""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 10  # seconds per request


def fail(msg):
    sys.exit(f"pg-drill: {msg}")


def local(base):
    host = urllib.parse.urlsplit(base).hostname
    if host != "127.0.0.1":
        fail(f"refusing to send traffic to {host}: the drill talks to 127.0.0.1 only")
    return base.rstrip("/")


def call(base, method, path, body=None, token=None, key=None):
    req = urllib.request.Request(base + path, method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if key:
        req.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def expect(step, got, status):
    if got[0] != status:
        fail(f"{step}: expected HTTP {status}, got {got[0]}: {got[1]}")
    return got[1]


def chip_balance(base, token, step):
    wallets = expect(step, call(base, "GET", "/v1/wallets", token=token), 200)
    chip = [w for w in wallets if w.get("currency") == "CHIP"]
    if len(chip) != 1:
        fail(f"{step}: no CHIP wallet in {wallets}")
    return chip[0]["balance"]


def wait(base, pid, secs):
    deadline = time.monotonic() + float(secs)
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid), 0)
        except OSError:
            fail(f"serve (pid {pid}) exited before {base}/readyz answered 200 (see its log)")
        try:
            status, body = call(base, "GET", "/readyz")
            if status == 200:
                return
            last = f"HTTP {status}: {body}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)  # poll interval, not a wait for readiness
    fail(f"{base}/readyz did not answer 200 within {secs}s (last: {last})")


def load(base, state_file, bets):
    creds = {"username": f"drill{os.getpid()}", "password": "correct horse battery staple"}
    expect("register", call(base, "POST", "/v1/auth/register", creds), 201)
    token = expect("login", call(base, "POST", "/v1/auth/login", creds), 200)["token"]
    expect("claim", call(base, "POST", "/v1/wallets/CHIP/claims", token=token, key="drill-claim"), 201)
    bet = {"currency": "CHIP", "stake": 100, "params": {"target": 50.5, "direction": "over"}}
    ids = []
    for i in range(int(bets)):
        placed = expect(f"bet {i + 1}", call(base, "POST", "/v1/games/dice/bets", bet, token,
                                             key=f"drill-bet-{i}"), 201)
        ids.append(placed["bet_id"])
    balance = chip_balance(base, token, "wallets after the bets")
    if balance != placed["balance"]:
        fail(f"wallet says {balance}, the last bet said {placed['balance']}")
    with open(state_file, "w") as f:
        json.dump({"username": creds["username"], "password": creds["password"], "token": token,
                   "bet_ids": ids, "balance": balance}, f)
    print(f"pg-drill: {len(ids)} bets acknowledged, balance {balance}")


def check(base, state_file, balance):
    with open(state_file) as f:
        state = json.load(f)
    want = int(balance)
    # The session taken before the dump is in the restored store.
    got = chip_balance(base, state["token"], "wallets with the backed-up session")
    if got != want:
        fail(f"restored wallet over HTTP is {got}, the source's is {want}")
    creds = {"username": state["username"], "password": state["password"]}
    token = expect("login on the restored store", call(base, "POST", "/v1/auth/login", creds), 200)["token"]
    for bet_id in state["bet_ids"]:
        expect(f"GET bet {bet_id}", call(base, "GET", f"/v1/bets/{bet_id}", token=token), 200)
    print(f"pg-drill: restored instance serves the wallet ({got}) and all {len(state['bet_ids'])} bets")


def ok(report_file):
    try:
        with open(report_file) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"verify-restore printed no JSON report ({e})")
    if report.get("ok") is not True:
        fail(f'verify-restore report has "ok": {json.dumps(report.get("ok"))}')


def get(state_file, key):
    with open(state_file) as f:
        value = json.load(f)[key]
    print("\n".join(value) if isinstance(value, list) else value)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd in ("ok", "get"):
        {"ok": ok, "get": get}[cmd](*args)
    else:
        {"wait": wait, "load": load, "check": check}[cmd](local(args[0]), *args[1:])
