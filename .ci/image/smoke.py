"""A player's first minutes against a running Croupier: wait for /livez,
register, log in, claim the bonus, place a dice bet, see the wallet move.
    python3 smoke.py http://127.0.0.1:PORT
Standard library only; exits non-zero with the failing step."""
import json
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1]
CLAIM = 100000  # the default CHIP bonus (assets/default-config.toml)


def call(method, path, body=None, token=None):
    req = urllib.request.Request(BASE + path, method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_live(deadline_secs=60):
    deadline = time.monotonic() + deadline_secs
    while True:
        try:
            if call("GET", "/livez")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"smoke: {BASE}/livez did not answer 200 within {deadline_secs}s")
        time.sleep(0.2)


def expect(step, got, status):
    if got[0] != status:
        sys.exit(f"smoke: {step}: expected {status}, got {got[0]}: {got[1]}")
    return got[1]


wait_live()
creds = {"username": "smoke", "password": "correct horse battery"}
expect("register", call("POST", "/v1/auth/register", creds), 201)
token = expect("login", call("POST", "/v1/auth/login", creds), 200)["token"]
expect("claim", call("POST", "/v1/wallets/CHIP/claims", token=token), 201)
bet = {"currency": "CHIP", "stake": 100, "params": {"target": 50.5, "direction": "over"}}
placed = expect("bet", call("POST", "/v1/games/dice/bets", bet, token), 201)
wallets = expect("wallets", call("GET", "/v1/wallets", token=token), 200)
chip = next(w for w in wallets if w["currency"] == "CHIP")
want = CLAIM - bet["stake"] + placed["payout"]
if chip["balance"] != want or placed["balance"] != want:
    sys.exit(f"smoke: balance {chip['balance']} (bet said {placed['balance']}), want {want}")
print(f"smoke: a dice bet settled (payout {placed['payout']}), balance {want}")
