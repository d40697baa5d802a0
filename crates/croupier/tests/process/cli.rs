//! The `croupier` binary as users run it: subcommands, configuration layers,
//! exit codes, and `serve` end to end.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn croupier(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_croupier"));
    c.current_dir(dir);
    // The test environment must not leak configuration into these runs.
    for (k, _) in std::env::vars() {
        if k.starts_with("CROUPIER_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("croupier runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// `croupier serve` on a free port with `env` on top of the defaults; returns
/// the child and its URL, read from the JSON log line announcing it.
fn serve(dir: &Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let (child, line) = serve_logging(dir, env);
    (child, line["url"].as_str().unwrap().to_owned())
}

/// Like [`serve`], returning the whole log line announcing the URL.
fn serve_logging(dir: &Path, env: &[(&str, &str)]) -> (std::process::Child, Value) {
    let mut child = croupier(dir)
        .arg("serve")
        .env("CROUPIER_LISTEN", "127.0.0.1:0")
        .env("CROUPIER_METRICS_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve logs its URL before exiting")
            .unwrap();
        let entry: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
        if entry["url"].is_string() {
            break entry;
        }
    };
    // Keep reading: a closed pipe would fail the server's next log write.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn config_prints_the_documented_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stdout, _) = run(croupier(dir.path()).arg("config"));
    assert!(out.status.success());
    assert_eq!(stdout, croupier::config::DEFAULT_TOML);
    assert!(stdout.contains("listen = \"127.0.0.1:8080\""));
}

#[test]
fn every_subcommand_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (vec!["--help"], "serve"),
        (vec!["serve", "--help"], "--listen"),
        (vec!["serve", "--help"], "--data-dir"),
        (vec!["migrate", "--help"], "--data-dir"),
        (vec!["config", "--help"], "default configuration"),
        (vec!["config", "--help"], "--check"),
        (vec!["admin", "create-user", "--help"], "--password-file"),
        (vec!["ledger", "audit", "--help"], "exits 1"),
        (vec!["fair", "verify", "--help"], "--server-seed"),
        (vec!["fair", "rtp", "--help"], "--rounds"),
        (vec!["healthcheck", "--help"], "--url"),
        (vec!["backup", "--help"], "--to"),
        (vec!["restore", "--help"], "--from"),
        (vec!["verify-restore", "--help"], "exits 1"),
    ] {
        let (out, stdout, _) = run(croupier(dir.path()).args(&args));
        assert!(out.status.success(), "{args:?}");
        assert!(
            stdout.contains(expect),
            "{args:?} help lacks {expect}:\n{stdout}"
        );
    }
}

#[test]
fn bad_configuration_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(croupier(dir.path())
        .arg("migrate")
        .env("CROUPIER_AUTH__SESSION_IDLE_SECS", "soon"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("auth.session_idle_secs"), "{stderr}");

    let file = dir.path().join("c.toml");
    std::fs::write(&file, "listen = \"not-an-address\"\n").unwrap();
    let (out, _, stderr) =
        run(croupier(dir.path()).args(["--config", file.to_str().unwrap(), "migrate"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("listen"), "{stderr}");

    std::fs::write(&file, "[auth]\nsesion_idle_secs = 5\n").unwrap();
    let (out, _, stderr) =
        run(croupier(dir.path()).args(["--config", file.to_str().unwrap(), "migrate"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("sesion_idle_secs"), "{stderr}");

    std::fs::write(&file, "[auth.argon2]\nmemory_kib = 1024\n").unwrap();
    let (out, _, stderr) =
        run(croupier(dir.path()).args(["--config", file.to_str().unwrap(), "migrate"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("auth.argon2"), "{stderr}");

    let (out, _, stderr) = run(croupier(dir.path()).args(["--config", "missing.toml", "migrate"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

/// `config --check` validates what an instance would load (a ConfigMap, a
/// compose environment) without starting anything.
#[test]
fn config_check_validates_the_file_and_environment_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("croupier.toml");
    std::fs::write(&file, "[http]\nrequest_timeout_ms = 20000\n").unwrap();
    let check = |env: &[(&str, &str)]| {
        let (out, stdout, stderr) = run(croupier(dir.path())
            .args(["config", "--check", "--config", file.to_str().unwrap()])
            .envs(env.iter().copied()));
        (out.status.code(), stdout + &stderr)
    };
    assert_eq!(check(&[]).0, Some(0), "{}", check(&[]).1);
    let (code, out) = check(&[("CROUPIER_SHUTDOWN_GRACE_SECS", "30.0")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("shutdown_grace_secs"), "{out}");
    std::fs::write(&file, "[http]\nrequest_timeout_ms = 20000.0\n").unwrap();
    let (code, out) = check(&[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("request_timeout_ms"), "{out}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn layers_apply_in_order_and_values_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "data_dir = \"from-file\"\n").unwrap();
    // File alone.
    let (out, stdout, stderr) =
        run(croupier(dir.path()).args(["--config", file.to_str().unwrap(), "migrate"]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        json(&stdout)["schema_version"],
        croupier_store_sqlite::LATEST_VERSION
    );
    assert!(dir.path().join("from-file/croupier.db").exists());
    // Environment beats the file.
    let (out, _, _) = run(croupier(dir.path())
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .env("CROUPIER_DATA_DIR", "from-env"));
    assert!(out.status.success());
    assert!(dir.path().join("from-env/croupier.db").exists());
    // The flag beats the environment.
    let (out, _, _) = run(croupier(dir.path())
        .args(["migrate", "--data-dir", "from-flag"])
        .env("CROUPIER_DATA_DIR", "from-env-2"));
    assert!(out.status.success());
    assert!(dir.path().join("from-flag/croupier.db").exists());
    assert!(!dir.path().join("from-env-2").exists());
    // *_FILE supplies a value from a file.
    std::fs::write(dir.path().join("secret"), "from-secret-file\n").unwrap();
    let (out, _, stderr) = run(croupier(dir.path())
        .arg("migrate")
        .env("CROUPIER_DATA_DIR_FILE", dir.path().join("secret")));
    assert!(out.status.success(), "{stderr}");
    assert!(dir.path().join("from-secret-file/croupier.db").exists());
    // Variables meant for the test suites are not configuration.
    let (out, _, stderr) = run(croupier(dir.path())
        .args(["migrate", "--data-dir", "x"])
        .env("CROUPIER_TEST_POSTGRES_URL", "postgres://nowhere"));
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn admin_create_user_and_ledger_audit() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a very good passphrase\n").unwrap();
    let create = |name: &str, role: &str| {
        run(croupier(dir.path()).args([
            "admin",
            "create-user",
            "--username",
            name,
            "--password-file",
            pw.to_str().unwrap(),
            "--role",
            role,
            "--data-dir",
            "d",
        ]))
    };
    let (out, stdout, stderr) = create("root", "admin");
    assert!(out.status.success(), "{stderr}");
    let user = json(&stdout);
    assert_eq!(user["username"], "root");
    assert_eq!(user["roles"], serde_json::json!(["admin"]));
    let (out, _, stderr) = create("ROOT", "player");
    assert!(!out.status.success(), "duplicate name accepted");
    assert!(stderr.contains("taken"), "{stderr}");
    let (out, _, _) = create("x", "player");
    assert!(!out.status.success(), "invalid username accepted");
    std::fs::write(&pw, "password1").unwrap();
    let (out, _, stderr) = create("weak", "player");
    assert!(!out.status.success());
    assert!(stderr.contains("password"), "{stderr}");

    let audit = || run(croupier(dir.path()).args(["ledger", "audit", "--data-dir", "d"]));
    let (out, stdout, _) = audit();
    assert!(out.status.success());
    assert_eq!(json(&stdout)["ok"], true);

    // Tamper with a balance behind the ledger's back: the audit must notice.
    let db = rusqlite::Connection::open(dir.path().join("d/croupier.db")).unwrap();
    db.execute_batch(&format!(
        "INSERT INTO wallets (player_id, currency, balance) VALUES ('{}', 'CHIP', 5)",
        user["player_id"].as_str().unwrap()
    ))
    .unwrap();
    drop(db);
    let (out, stdout, _) = audit();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&stdout);
    assert_eq!(report["ok"], false);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("postings sum"),
        "{report}"
    );
}

/// Commands that read a store refuse a missing one — a mistyped
/// `--data-dir` used to get a new, empty database and a clean audit (exit
/// 0) — naming the path and creating nothing there.
#[test]
fn read_only_commands_refuse_a_missing_store_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("a/typo");
    let typo_arg = typo.to_str().unwrap();
    for args in [
        vec!["ledger", "audit", "--data-dir", typo_arg],
        vec![
            "events",
            "replay",
            "--consumer",
            "stats",
            "--from",
            "0",
            "--data-dir",
            typo_arg,
        ],
    ] {
        let (out, stdout, stderr) = run(croupier(dir.path()).args(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("no Croupier store at {typo_arg}")),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("croupier migrate"), "{stderr}");
        assert!(stdout.is_empty(), "{args:?} printed a report: {stdout}");
        assert!(
            !dir.path().join("a").exists(),
            "{args:?} created the directory"
        );
    }
    // An existing directory without a database: refused too, nothing created.
    std::fs::create_dir_all(&typo).unwrap();
    let (out, _, stderr) =
        run(croupier(dir.path()).args(["ledger", "audit", "--data-dir", typo_arg]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        std::fs::read_dir(&typo).unwrap().count(),
        0,
        "files created"
    );
    // Once migrated, the same command works.
    let (out, _, stderr) = run(croupier(dir.path()).args(["migrate", "--data-dir", typo_arg]));
    assert!(out.status.success(), "{stderr}");
    let (out, stdout, stderr) =
        run(croupier(dir.path()).args(["ledger", "audit", "--data-dir", typo_arg]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(json(&stdout)["ok"], true);
}

#[test]
fn fair_commands_reproduce_the_public_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let verify = |game: &str, nonce: &str, params: &str| {
        let (out, stdout, stderr) = run(croupier(dir.path()).args([
            "fair",
            "verify",
            "--game",
            game,
            "--server-seed",
            "server seed",
            "--client-seed",
            "client seed",
            "--nonce",
            nonce,
            "--params",
            params,
        ]));
        assert!(out.status.success(), "{game}: {stderr}");
        json(&stdout)
    };
    assert_eq!(
        verify("dice", "1", "{}"),
        serde_json::json!({ "roll": 74.67 })
    );
    assert_eq!(
        verify("limbo", "3", "{}"),
        serde_json::json!({ "multiplier": 4.28 })
    );
    assert_eq!(
        verify("roulette", "2", "{}"),
        serde_json::json!({ "pocket": 19 })
    );
    assert_eq!(
        verify("plinko", "2", r#"{"rows":8,"risk":"low"}"#)["slot"],
        2
    );
    assert_eq!(
        verify("keno", "1", "{}"),
        serde_json::json!({ "drawn": [30, 26, 10, 37, 22, 35, 25, 24, 39, 4] })
    );
    assert_eq!(
        verify("mines", "1", r#"{"mines":3}"#),
        serde_json::json!({ "mines": [18, 15, 5] })
    );
    assert_eq!(
        verify("flip", "1", r#"{"count":5}"#),
        serde_json::json!({ "flips": ["heads", "heads", "tails", "heads", "heads"] })
    );
    let (out, stdout, _) = run(croupier(dir.path()).args([
        "fair",
        "crash",
        "--game-hash",
        "5844bf329a6334074778ab8a5f0960e24f9eec43f83bbd98ac0a9f8bcd87184e",
        "--salt",
        "0000000000000000001b34dc6a1e86083f95500b096231436e9b25cbdd0075c4",
    ]));
    assert!(out.status.success());
    assert_eq!(json(&stdout), serde_json::json!({ "crash_point": 2.35 }));

    let (out, stdout, _) = run(croupier(dir.path()).args([
        "fair",
        "rtp",
        "--game",
        "roulette",
        "--params",
        r#"{"bets":[{"type":"red","amount":100}]}"#,
        "--rounds",
        "100000",
    ]));
    assert!(out.status.success());
    let sim = json(&stdout);
    assert!(
        (sim["theoretical_rtp"].as_f64().unwrap() - 36.0 / 37.0).abs() < 1e-12,
        "{sim}"
    );
    let [lo, hi] = [
        sim["interval_99_9"][0].as_f64().unwrap(),
        sim["interval_99_9"][1].as_f64().unwrap(),
    ];
    assert!(lo < hi && lo <= sim["simulated_rtp"].as_f64().unwrap());

    let (out, _, stderr) = run(croupier(dir.path()).args([
        "fair",
        "verify",
        "--game",
        "poker",
        "--server-seed",
        "a",
        "--client-seed",
        "b",
        "--nonce",
        "0",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("poker"));
    let (out, _, stderr) = run(croupier(dir.path()).args([
        "fair",
        "verify",
        "--game",
        "dice",
        "--server-seed",
        "a",
        "--client-seed",
        "b",
        "--nonce",
        "0",
        "--params",
        "{not json",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("--params"), "{stderr}");
}

/// `croupier serve` with no configuration starts a working platform, logs its
/// URL as JSON, and drains on SIGTERM with exit code 0.
#[test]
fn serve_starts_with_zero_configuration_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Port 0 is the only deviation from the defaults (see `serve`).
    let (mut child, line) = serve_logging(dir.path(), &[]);
    let url = line["url"].as_str().unwrap();
    assert!(
        dir.path().join("data/croupier.db").exists(),
        "./data is the default data dir"
    );
    let body = http_get(url, "/livez");
    assert!(body.contains("\"ok\""), "{body}");
    let body = http_get(url, "/readyz");
    assert!(body.contains("ready"), "{body}");
    // Metrics live on a listener of their own, not on the API port.
    let metrics = line["metrics"].as_str().expect("the metrics URL is logged");
    let base = metrics.trim_end_matches("/metrics");
    assert_ne!(base, url);
    let body = http_get(base, "/metrics");
    assert!(body.contains("# HELP croupier_"), "{body}");
    assert!(http_get_any(url, "/metrics").starts_with("HTTP/1.1 404"));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

fn http_get(base: &str, path: &str) -> String {
    let out = http_get_any(base, path);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// The raw response to `GET path`, whatever its status.
fn http_get_any(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `--database-url` switches every storage command to PostgreSQL (run when
/// CROUPIER_TEST_POSTGRES_URL is set; CI requires it).
#[test]
fn storage_commands_run_on_postgres_with_database_url() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) =
        run(croupier(dir.path()).args(["migrate", "--database-url", "mysql://nope"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("database_url"), "{stderr}");

    let Ok(base) = std::env::var("CROUPIER_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CROUPIER_TEST_REQUIRE_BACKENDS").is_err(),
            "CROUPIER_TEST_POSTGRES_URL must be set"
        );
        eprintln!("skipped: CROUPIER_TEST_POSTGRES_URL not set");
        return;
    };
    let schema = format!("cli_{}", uuid::Uuid::new_v4().simple());
    let psql = |sql: &str| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        });
    };
    psql(&format!("CREATE SCHEMA {schema}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let result = std::panic::catch_unwind(|| {
        // Before any migration the schema is empty: read-only commands refuse it.
        for cmd in [&["verify-restore"][..], &["ledger", "audit"]] {
            let (out, _, stderr) = run(croupier(dir.path())
                .args(cmd)
                .args(["--database-url", &url]));
            assert_eq!(out.status.code(), Some(1), "{cmd:?}: {stderr}");
            assert!(stderr.contains("no Croupier store"), "{stderr}");
        }
        let (out, stdout, stderr) =
            run(croupier(dir.path()).args(["migrate", "--database-url", &url]));
        assert!(out.status.success(), "{stderr}");
        assert_eq!(json(&stdout)["migrated"], "postgres");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "a very good passphrase\n").unwrap();
        let (out, stdout, stderr) = run(croupier(dir.path())
            .args([
                "admin",
                "create-user",
                "--username",
                "root",
                "--role",
                "admin",
            ])
            .args(["--password-file", pw.to_str().unwrap()])
            .env("CROUPIER_DATABASE_URL", &url));
        assert!(out.status.success(), "{stderr}");
        assert_eq!(json(&stdout)["roles"], serde_json::json!(["admin"]));
        let (out, stdout, _) =
            run(croupier(dir.path()).args(["ledger", "audit", "--database-url", &url]));
        assert!(out.status.success());
        assert_eq!(json(&stdout)["ok"], true);
        let (out, stdout, stderr) =
            run(croupier(dir.path()).args(["verify-restore", "--database-url", &url]));
        assert!(out.status.success(), "{stdout}{stderr}");
        assert_eq!(json(&stdout)["storage"], Value::Null, "no SQLite checks");
        // PostgreSQL is backed up by its own tools: the command says which.
        let (out, _, stderr) =
            run(croupier(dir.path()).args(["backup", "--to", "backups", "--database-url", &url]));
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr.contains("pg_dump"), "{stderr}");
        assert!(
            !dir.path().join("data").exists(),
            "nothing embedded was created"
        );
    });
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// An empty backup location is refused by name (it once meant the current
/// directory), before any store is opened or file written.
#[test]
fn an_empty_backup_or_restore_location_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [["backup", "--to", ""], ["restore", "--from", ""]] {
        let (out, _, stderr) = run(croupier(dir.path()).args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(args[1]), "{args:?}: {stderr}");
    }
    let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(written.is_empty(), "nothing written: {written:?}");
}

/// With `shutdown_drain_secs`, SIGTERM first turns `/readyz` to 503 while
/// the instance keeps serving (a load balancer moves traffic away), then
/// closes and exits 0.
#[test]
fn serve_drains_after_sigterm_before_it_stops_accepting() {
    let dir = tempfile::tempdir().unwrap();
    // A drain long enough that the checks below fit in it on a loaded machine.
    let (mut child, url) = serve(dir.path(), &[("CROUPIER_SHUTDOWN_DRAIN_SECS", "5")]);
    assert!(http_status(&url, "/readyz").starts_with("HTTP/1.1 200"));
    let sent = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    // Not ready at once, but still serving: liveness and the API answer.
    let deadline = sent + Duration::from_secs(4);
    loop {
        let ready = http_status(&url, "/readyz");
        if ready.starts_with("HTTP/1.1 503") {
            assert!(ready.contains("draining"), "{ready}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz still: {ready}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(http_status(&url, "/livez").starts_with("HTTP/1.1 200"));
    assert!(http_status(&url, "/v1/games").starts_with("HTTP/1.1 200"));
    // The container health check sees the drain too.
    let readyz = format!("{url}/readyz");
    let (out, _, _) = run(croupier(dir.path()).args(["healthcheck", "--url", &readyz]));
    assert_eq!(out.status.code(), Some(1));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        sent.elapsed() >= Duration::from_secs(5),
        "stopped before the drain period: {:?}",
        sent.elapsed()
    );
}

/// `croupier healthcheck`: 0 on a 2xx answer, 1 on anything else (an error
/// status, nothing listening, a silent peer, a URL it cannot use); by default
/// the configured listener's /readyz, a wildcard bind reached on loopback.
#[test]
fn healthcheck_exits_0_on_2xx_and_1_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path(), &[]);
    let port = url.rsplit(':').next().unwrap();
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let (out, stdout, stderr) = run(croupier(dir.path())
            .arg("healthcheck")
            .args(args)
            .envs(env.iter().copied()));
        (out.status.code(), stdout, stderr)
    };
    let listen = format!("0.0.0.0:{port}");
    let (code, stdout, _) = check(&[], &[("CROUPIER_LISTEN", &listen)]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("127.0.0.1:{port}/readyz")),
        "{stdout}"
    );
    assert_eq!(check(&["--url", &format!("{url}/livez")], &[]).0, Some(0));

    let (code, _, stderr) = check(&["--url", &format!("{url}/v1/nowhere")], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("404"), "{stderr}");
    let (code, _, stderr) = check(&["--url", "https://127.0.0.1:1/readyz"], &[]);
    assert_eq!(
        (code, stderr.contains("http://")),
        (Some(1), true),
        "{stderr}"
    );
    let (code, _, _) = check(&[], &[("CROUPIER_LISTEN", "not an address")]);
    assert_eq!(
        code,
        Some(1),
        "a bad configuration is unhealthy, not Docker's 2"
    );

    // A peer that accepts and never answers costs the timeout, not a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/readyz", silent.local_addr().unwrap());
    let (code, _, stderr) = check(&["--url", &silent_url, "--timeout-ms", "200"], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("timeout"), "{stderr}");
    drop(silent);
    let (code, _, _) = check(&["--url", &silent_url], &[]);
    assert_eq!(code, Some(1), "nothing listens there any more");

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

/// The whole response (status line, headers, body) of a plain GET.
fn http_status(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A minimal OTLP/HTTP collector: answers 200 to every POST and keeps the
/// bodies (keep-alive connections included).
fn otlp_collector() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let kept = kept.clone();
            std::thread::spawn(move || loop {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                let mut body = vec![0u8; len];
                if conn.read_exact(&mut body).is_err() {
                    return;
                }
                kept.lock().unwrap().push(body);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
                );
            });
        }
    });
    (url, bodies)
}

/// With `telemetry.otlp_endpoint`, a bet's trace reaches the collector
/// whole: the request (continuing the caller's traceparent), the store
/// write, the outbox publish and the consumers, on one trace id; SIGTERM
/// flushes what is queued.
#[tokio::test]
async fn serve_exports_one_trace_from_request_to_consumers_over_otlp() {
    let (collector, bodies) = otlp_collector();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(
        dir.path(),
        &[
            ("CROUPIER_TELEMETRY__OTLP_ENDPOINT", collector.as_str()),
            ("CROUPIER_TELEMETRY__OTLP_PROTOCOL", "json"),
        ],
    );
    let http = reqwest::Client::new();
    let token = funded_player(&http, &url, "traced").await;
    let (trace, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let r = http
        .post(format!("{url}/v1/games/dice/bets"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .json(&serde_json::json!({ "currency": "CHIP", "stake": 100,
                                   "params": { "target": 50.5, "direction": "over" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The consumers have run once the stats count the bet.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stats: Value = http
            .get(format!("{url}/v1/me/stats"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["currencies"][0]["bets"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stats never counted the bet: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");

    // Every span of the bet's trace, by name.
    let mut spans: Vec<Value> = Vec::new();
    let mut services = std::collections::BTreeSet::new();
    for body in bodies.lock().unwrap().iter() {
        let export: Value = serde_json::from_slice(body).expect("OTLP/JSON body");
        for rs in export["resourceSpans"].as_array().unwrap() {
            for a in rs["resource"]["attributes"].as_array().unwrap() {
                if a["key"] == "service.name" {
                    services.insert(a["value"]["stringValue"].as_str().unwrap().to_owned());
                }
            }
            for ss in rs["scopeSpans"].as_array().unwrap() {
                spans.extend(
                    ss["spans"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|s| s["traceId"] == trace)
                        .cloned(),
                );
            }
        }
    }
    assert_eq!(services.into_iter().collect::<Vec<_>>(), ["croupier"]);
    let named =
        |name: &str| -> Vec<&Value> { spans.iter().filter(|s| s["name"] == name).collect() };
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let request = named("POST /v1/games/{game}/bets");
    assert_eq!(request.len(), 1, "one request span: {names:?}");
    assert_eq!(
        request[0]["parentSpanId"], caller_span,
        "continues the caller's span"
    );
    let request_span = request[0]["spanId"].as_str().unwrap();
    let writes: Vec<&Value> = named("sqlite write")
        .into_iter()
        .filter(|w| w["parentSpanId"] == request_span)
        .collect();
    assert!(!writes.is_empty(), "the request's store write: {names:?}");
    let publish = named("publish bet.settled");
    assert_eq!(publish.len(), 1, "the relay's publish: {names:?}");
    for consumer in ["consume stats", "consume missions"] {
        assert!(!named(consumer).is_empty(), "{consumer}: {names:?}");
    }
    // The consumers continue the context the event was written in.
    let write_spans: Vec<&str> = writes
        .iter()
        .map(|w| w["spanId"].as_str().unwrap())
        .collect();
    let consumed = named("consume stats")[0]["parentSpanId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        consumed == request_span || write_spans.contains(&consumed.as_str()),
        "consume stats hangs under {consumed}, not under the request or its write"
    );
    // One tree: every span hangs under the caller's span or another of the trace
    // (the consumers' own store writes under their delivery, say).
    let ids: std::collections::BTreeSet<&str> = spans
        .iter()
        .map(|s| s["spanId"].as_str().unwrap())
        .collect();
    for s in &spans {
        let parent = s["parentSpanId"].as_str().unwrap_or("");
        assert!(
            parent == caller_span || ids.contains(parent),
            "{} hangs under {parent:?}, outside the trace",
            s["name"]
        );
    }
}

/// A player's bearer token on the instance at `url`: registered, logged in,
/// with the CHIP bonus claimed.
async fn funded_player(http: &reqwest::Client, url: &str, name: &str) -> String {
    let creds = serde_json::json!({ "username": name, "password": "correct horse battery" });
    let r = http
        .post(format!("{url}/v1/auth/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login: Value = http
        .post(format!("{url}/v1/auth/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{url}/v1/wallets/CHIP/claims"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    token
}

/// `backup` while bets keep coming: the copy, restored into a fresh data
/// directory, passes `verify-restore`, holds every bet acknowledged before the
/// backup began, and serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_bet_load_restores_to_a_verified_store_with_every_earlier_bet() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let (mut live, url) = serve(dir.path(), &[]);
    let http = reqwest::Client::new();
    let token = funded_player(&http, &url, "backer").await;

    // The load: one bet after another until stopped, acknowledged ids kept.
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let load = tokio::spawn({
        let (stop, acked, http, url, token) = (
            stop.clone(),
            acked.clone(),
            http.clone(),
            url.clone(),
            token.clone(),
        );
        async move {
            let bet = serde_json::json!({ "currency": "CHIP", "stake": 1,
                                          "params": { "target": 50.5, "direction": "over" } });
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(format!("{url}/v1/games/dice/bets"))
                    .bearer_auth(&token)
                    .json(&bet)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let body: Value = r.json().await.unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push(body["bet_id"].as_str().unwrap().to_owned());
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 50 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load placed too few bets"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acked.lock().unwrap().clone();
    let backups = dir.path().join("backups");
    let (out, stdout, stderr) =
        run(croupier(dir.path()).args(["backup", "--to", backups.to_str().unwrap()]));
    assert!(out.status.success(), "{stderr}");
    let file = json(&stdout)["backup"].as_str().unwrap().to_owned();
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    unsafe { libc::kill(live.id() as i32, libc::SIGTERM) };
    assert!(live.wait().unwrap().success());

    let restored = dir.path().join("restored");
    let data = ["--data-dir", restored.to_str().unwrap()];
    let (out, _, stderr) = run(croupier(dir.path())
        .args(["restore", "--from", &file])
        .args(data));
    assert!(out.status.success(), "{stderr}");
    let (out, stdout, stderr) = run(croupier(dir.path()).arg("verify-restore").args(data));
    assert!(out.status.success(), "{stdout}{stderr}");
    let report = json(&stdout);
    assert_eq!(
        (report["ok"].clone(), report["nonces"].clone()),
        (true.into(), serde_json::json!([]))
    );

    let db = rusqlite::Connection::open(restored.join("croupier.db")).unwrap();
    let missing: Vec<&String> = before
        .iter()
        .filter(|id| {
            db.query_row("SELECT COUNT(*) FROM bets WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
                == 0
        })
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, not in it: {missing:?}"
    );

    // The restored store serves: the player's session and bets are there.
    let restored_dir = restored.to_str().unwrap();
    let (mut again, url) = serve(dir.path(), &[("CROUPIER_DATA_DIR", restored_dir)]);
    for id in [&before[0], &before[before.len() - 1]] {
        let r = http
            .get(format!("{url}/v1/bets/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "bet {id} on the restored store");
        assert_eq!(r.json::<Value>().await.unwrap()["bet_id"], id.as_str());
    }
    unsafe { libc::kill(again.id() as i32, libc::SIGTERM) };
    assert!(again.wait().unwrap().success());

    // A store whose ledger no longer adds up fails the check.
    db.execute("UPDATE wallets SET balance = balance + 1", [])
        .unwrap();
    let (out, stdout, _) = run(croupier(dir.path()).arg("verify-restore").args(data));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(json(&stdout)["ledger"]["ok"], false, "{stdout}");
}

/// A CA and a server certificate for localhost and 127.0.0.1, made with the
/// openssl CLI in `dir`: (ca.pem, server.pem, server.key).
fn tls_certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key, csr) = (
        dir.join("server.pem"),
        dir.join("server.key"),
        dir.join("server.csr"),
    );
    let ext = dir.join("san.ext");
    std::fs::write(&ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    openssl(&[
        os("req"),
        os("-x509"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-days"),
        os("1"),
        os("-subj"),
        os("/CN=croupier test CA"),
        os("-keyout"),
        ca_key.as_os_str(),
        os("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        os("req"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-subj"),
        os("/CN=localhost"),
        os("-keyout"),
        key.as_os_str(),
        os("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        os("x509"),
        os("-req"),
        os("-in"),
        csr.as_os_str(),
        os("-CA"),
        ca.as_os_str(),
        os("-CAkey"),
        ca_key.as_os_str(),
        os("-CAcreateserial"),
        os("-days"),
        os("1"),
        os("-extfile"),
        ext.as_os_str(),
        os("-out"),
        cert.as_os_str(),
    ]);
    (ca, cert, key)
}

/// The sum of a metric's samples (every label set) in a Prometheus exposition.
fn total(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        .filter_map(|rest| rest.rsplit(' ').next()?.trim().parse::<f64>().ok())
        .sum()
}

/// `rediss://` is TLS verified against the system's CA store, which
/// SSL_CERT_FILE extends: with the CA the instance's revocation feed goes
/// live over TLS; without it the certificate is refused and Redis counts as
/// failing (degraded, still serving). A real redis-server with TLS on.
#[test]
fn serve_reaches_redis_over_verified_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = tls_certificates(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&ca)
        .args([
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("rediss://localhost:{port}");
    // Serves with `env`, sending rate-limited requests (each a Redis call)
    // until `metric` reaches 1; returns the metrics then.
    let watch = |env: &[(&str, &str)], metric: &str| {
        let (mut child, line) = serve_logging(dir.path(), env);
        let api = line["url"].as_str().unwrap().to_owned();
        let base = line["metrics"]
            .as_str()
            .unwrap()
            .trim_end_matches("/metrics")
            .to_owned();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let metrics = loop {
            http_get_any(&api, "/v1/games");
            let metrics = http_get(&base, "/metrics");
            if total(&metrics, metric) >= 1.0 || std::time::Instant::now() > deadline {
                break metrics;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        assert!(child.wait().unwrap().success());
        metrics
    };
    let (live, errors) = (
        "croupier_session_revocation_feed_live",
        "croupier_redis_errors_total",
    );
    let ca_file = ca.to_str().unwrap();
    let trusted = watch(
        &[("CROUPIER_REDIS_URL", &url), ("SSL_CERT_FILE", ca_file)],
        live,
    );
    let untrusted = watch(
        &[("CROUPIER_REDIS_URL", &url), ("SSL_CERT_FILE", "/dev/null")],
        errors,
    );
    let _ = redis.kill();
    let _ = redis.wait();
    assert_eq!(
        total(&trusted, live),
        1.0,
        "the feed did not go live over TLS"
    );
    assert_eq!(total(&trusted, errors), 0.0, "Redis calls failed over TLS");
    assert!(
        total(&untrusted, errors) >= 1.0,
        "an unverified server was not refused"
    );
    assert_eq!(
        total(&untrusted, live),
        0.0,
        "a feed went live with an unverified server"
    );
}

/// The docs' root, from this crate.
fn doc(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// docs/cli.md lists exactly the subcommands the binary has, each with flags
/// its `--help` knows: a documented command or flag that no longer exists
/// fails here, and so does a new subcommand nobody documented.
#[test]
fn the_cli_reference_lists_every_command_and_only_real_flags() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let (out, stdout, stderr) = run(croupier(dir.path()).args(args).arg("--help"));
        assert!(out.status.success(), "{args:?}: {stderr}");
        stdout
    };
    let reference = doc("docs/cli.md");
    let rows: Vec<&str> = reference
        .lines()
        .filter_map(|l| l.strip_prefix("| `croupier "))
        .map(|l| l.split('`').next().unwrap())
        .collect();
    for row in &rows {
        let words: Vec<&str> = row
            .split_whitespace()
            .take_while(|w| {
                !w.starts_with('-') && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .collect();
        let text = help(&words);
        for flag in row.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if flag.starts_with("--") {
                assert!(
                    text.contains(flag),
                    "`croupier {row}`: {flag} is not in its --help"
                );
            }
        }
    }
    let top = help(&[]);
    let commands = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap();
    for name in commands.lines().filter_map(|l| l.split_whitespace().next()) {
        if name != "help" {
            assert!(
                rows.iter()
                    .any(|r| r.split_whitespace().next() == Some(name)),
                "`croupier {name}` is not in docs/cli.md"
            );
        }
    }
}

/// docs/configuration.md's table names exactly the sections of the default
/// configuration (whose comments document every key).
#[test]
fn the_configuration_reference_names_every_section() {
    let defaults: toml::Table = croupier::config::DEFAULT_TOML.parse().unwrap();
    let mut real = std::collections::BTreeSet::new();
    fn walk(prefix: &str, t: &toml::Table, out: &mut std::collections::BTreeSet<String>) {
        for (k, v) in t {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) if !inner.is_empty() || k == "overrides" => {
                    out.insert(name.clone());
                    walk(&name, inner, out);
                }
                toml::Value::Array(items)
                    if items.iter().all(|i| i.is_table()) && !items.is_empty() =>
                {
                    out.insert(name);
                }
                _ => {}
            }
        }
    }
    walk("", &defaults, &mut real);
    // Inline tables are values, not sections.
    real.retain(|s| !s.starts_with("http.rate_limits.") && !s.starts_with("missions."));
    let reference = doc("docs/configuration.md");
    let documented: std::collections::BTreeSet<String> = reference
        .split('`')
        .filter(|s| s.starts_with('[') && s.ends_with(']'))
        .map(|s| s.trim_matches(|c| c == '[' || c == ']').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        documented, real,
        "docs/configuration.md's sections vs the default configuration"
    );
}
