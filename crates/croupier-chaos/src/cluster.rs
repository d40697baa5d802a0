//! `deploy/local/cluster.sh` driven from the runner: start, stop, restart one
//! instance, and the pid of each process. Stopped on drop.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/cluster.sh")
}

pub struct Cluster {
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub lb: String,
    stopped: bool,
}

impl Cluster {
    /// Runs `cluster.sh start` with `env` (CROUPIER_* and CLUSTER_BIN) plus the
    /// ports and the state directory it picks.
    pub fn start(mut env: Vec<(String, String)>, dir: PathBuf) -> Result<Cluster> {
        let (lb_port, base) = free_ports()?;
        std::fs::create_dir_all(&dir)?;
        env.extend([
            ("CLUSTER_LB_PORT".into(), lb_port.to_string()),
            ("CLUSTER_BASE_PORT".into(), base.to_string()),
            ("CLUSTER_DIR".into(), dir.display().to_string()),
        ]);
        let mut c = Cluster {
            env,
            dir,
            lb: format!("http://127.0.0.1:{lb_port}"),
            stopped: false,
        };
        if let Err(e) = c.script(&["start"]) {
            c.stopped = true;
            let _ = c.script(&["stop"]);
            return Err(e);
        }
        Ok(c)
    }

    pub fn script(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("bash")
            .arg(script())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .context("run deploy/local/cluster.sh")?;
        if !out.status.success() {
            bail!(
                "cluster.sh {} failed:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `cluster.sh restart NAME`, on a blocking thread.
    pub async fn restart(&self, name: &str) -> Result<()> {
        let (env, name) = (self.env.clone(), name.to_owned());
        tokio::task::spawn_blocking(move || {
            let c = Cluster {
                env,
                dir: PathBuf::new(),
                lb: String::new(),
                stopped: true,
            };
            c.script(&["restart", &name]).map(|_| ())
        })
        .await?
    }

    pub fn pid(&self, name: &str) -> Result<i32> {
        let p = self.dir.join(format!("{name}.pid"));
        std::fs::read_to_string(&p)
            .with_context(|| format!("{}", p.display()))?
            .trim()
            .parse()
            .context("pid file")
    }

    pub fn stop(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.stopped, true) {
            return Ok(());
        }
        self.script(&["stop"]).map(|_| ())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Nine consecutive free loopback ports (the script's BASE..BASE+8: instances,
/// HAProxy's stats, the instances' metrics) and one for HAProxy.
fn free_ports() -> Result<(u16, u16)> {
    let base = crate::engines::free_ports(10)?;
    Ok((base + 9, base))
}
