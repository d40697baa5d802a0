//! Private PostgreSQL, Redis and NATS JetStream on free loopback ports, so the
//! faults never touch the machine's shared services. Each is a guard: dropping
//! it stops the engine and removes its data.

use anyhow::{bail, Context, Result};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released: good enough on one machine).
pub fn free_port() -> Result<u16> {
    free_ports(1)
}

/// The first of `n` consecutive free loopback ports, outside the kernel's
/// ephemeral range. Servers here are stopped and started again on the same
/// port; in the ephemeral range an outgoing connection (a health check, a
/// reconnecting pool, even a connection to that very port, which then
/// connects to itself) can take the port while it is down.
pub fn free_ports(n: u16) -> Result<u16> {
    let (lo, hi) = ephemeral_range();
    // Below the ephemeral range if there is room, else above it.
    let (from, to) = if lo >= 12_000 {
        (10_000, lo)
    } else {
        (hi.saturating_add(1).max(10_000), u16::MAX)
    };
    let span = to.saturating_sub(from).saturating_sub(n);
    if span == 0 {
        bail!("no room for {n} ports outside the ephemeral range {lo}-{hi}");
    }
    for _ in 0..500 {
        let first = from + (uuid::Uuid::new_v4().as_u64_pair().0 % span as u64) as u16;
        let all: Option<Vec<TcpListener>> = (0..n)
            .map(|i| TcpListener::bind(("127.0.0.1", first + i)).ok())
            .collect();
        if all.is_some() {
            return Ok(first);
        }
    }
    bail!("no {n} free consecutive loopback ports in {from}-{to}")
}

/// Linux's `ip_local_port_range` (its default where it cannot be read).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// Waits until something accepts TCP connections on the port.
pub fn wait_port(port: u16, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("nothing listens on 127.0.0.1:{port} after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether a command can be run at all (for the skip check).
pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A Debian PostgreSQL cluster of its own (`pg_createcluster`), trust auth on
/// loopback, owned by the postgres user; dropped with `pg_dropcluster --stop`.
pub struct Postgres {
    version: String,
    name: String,
    pub port: u16,
}

impl Postgres {
    pub fn create() -> Result<Postgres> {
        let version = newest_postgres()?;
        let port = free_port()?;
        let name = format!("chaos-{}-{}", std::process::id(), &short_id()[..6]);
        run(Command::new("pg_createcluster")
            .args([&version, &name, "-p", &port.to_string()])
            .args(["-o", "max_connections=200"]) // listens on localhost only (the default)
            .args(["--", "--auth=trust"]))?;
        let pg = Postgres {
            version,
            name,
            port,
        };
        pg.ctl(&["start"])?;
        wait_port(port, Duration::from_secs(30))?;
        Ok(pg)
    }

    /// `pg_ctlcluster … restart -m fast|immediate`; returns once it accepts connections again.
    pub fn restart(&self, mode: &str) -> Result<()> {
        self.ctl(&["restart", "-m", mode])?;
        wait_port(self.port, Duration::from_secs(30))
    }

    fn ctl(&self, args: &[&str]) -> Result<()> {
        run(Command::new("pg_ctlcluster")
            .arg("--skip-systemctl-redirect")
            .args([&self.version, &self.name])
            .args(args))
    }

    /// The server's log (Debian keeps it outside the data directory).
    pub fn log(&self) -> PathBuf {
        PathBuf::from(format!(
            "/var/log/postgresql/postgresql-{}-{}.log",
            self.version, self.name
        ))
    }

    /// URL of a database on this cluster, reached directly (not through the fault proxy).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

fn newest_postgres() -> Result<String> {
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL server packages (/usr/lib/postgresql)")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    versions
        .pop()
        .map(|v| v.to_string())
        .context("no PostgreSQL version in /usr/lib/postgresql")
}

pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A server process that can be stopped and started again on the same port
/// (and, for NATS, the same JetStream store).
pub struct Daemon {
    what: &'static str,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Daemon {
    /// `redis-server` without persistence.
    pub fn redis(dir: &Path) -> Result<Daemon> {
        let port = free_port()?;
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no"])
            .map(str::to_owned)
            .collect();
        Daemon::launch("redis", "redis-server".into(), args, dir, port)
    }

    /// `nats-server -js` with its store in `dir/nats`, kept across restarts.
    pub fn nats(dir: &Path) -> Result<Daemon> {
        let port = free_port()?;
        let store = dir.join("nats");
        let program = ["/usr/sbin/nats-server", "nats-server"]
            .into_iter()
            .find(|p| have(p))
            .context("nats-server is not installed")?;
        let args = vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-js".into(),
            "-sd".into(),
            store.display().to_string(),
        ];
        Daemon::launch("nats", program.into(), args, dir, port)
    }

    fn launch(
        what: &'static str,
        program: PathBuf,
        args: Vec<String>,
        dir: &Path,
        port: u16,
    ) -> Result<Daemon> {
        let mut d = Daemon {
            what,
            program,
            args,
            log: dir.join(format!("{what}.log")),
            port,
            child: None,
        };
        d.start()?;
        Ok(d)
    }

    pub fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", self.what))?;
        self.child = Some(child);
        wait_port(self.port, Duration::from_secs(20))
            .with_context(|| format!("{} did not start; see {}", self.what, self.log.display()))
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGTERM, then SIGKILL after 10 s; waits for the exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id() as i32, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a signal; false if the process did not exist.
pub fn signal(pid: i32, sig: libc::c_int) -> bool {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// The three private engines and the directory holding their files.
pub struct Engines {
    pub postgres: Postgres,
    pub redis: Daemon,
    pub nats: Daemon,
    pub dir: tempfile::TempDir,
}

impl Engines {
    pub fn start() -> Result<Engines> {
        let dir = tempfile::Builder::new()
            .prefix("croupier-chaos-")
            .tempdir()?;
        let postgres = Postgres::create()?;
        let redis = Daemon::redis(dir.path())?;
        let nats = Daemon::nats(dir.path())?;
        Ok(Engines {
            postgres,
            redis,
            nats,
            dir,
        })
    }

    /// The commands the runner needs, or the first one missing.
    pub fn missing_tools() -> Option<&'static str> {
        [
            "pg_createcluster",
            "haproxy",
            "redis-server",
            "curl",
            "psql",
        ]
        .into_iter()
        .find(|t| !have(t))
        .or_else(|| {
            (!have("/usr/sbin/nats-server") && !have("nats-server")).then_some("nats-server")
        })
    }
}
