//! `croupier backup`, `restore` and `verify-restore`.
//!
//! The embedded store is backed up online (SQLite's backup API, one read
//! transaction: a consistent snapshot while `serve` keeps writing) into a new
//! file `croupier-<UTC time>.db` in a directory or under an `s3://` prefix, and
//! restored only into a data directory without a store. PostgreSQL is backed
//! up by PostgreSQL's own tools (pg_dump, or continuous archiving for
//! point-in-time recovery; docs/operations/runbook.md); `verify-restore`
//! checks a restored store of either kind.

use crate::config::Config;
use anyhow::{bail, Context};
use croupier_events::ObjectLocation;
use croupier_store_sqlite::backup;
use object_store::buffered::{BufReader, BufWriter};
use object_store::ObjectStore;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio::io::AsyncWriteExt;

/// `croupier backup --to DIR|s3://bucket/prefix`.
pub async fn backup(cfg: &Config, to: &str) -> anyhow::Result<ExitCode> {
    if cfg.database_url.is_some() {
        bail!(
            "backup copies the embedded store; back PostgreSQL up with pg_dump or continuous \
             archiving (docs/operations/runbook.md), then check a restore with verify-restore"
        );
    }
    let name = format!(
        "croupier-{}.db",
        croupier_core::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let source = cfg.database_path();
    if !to.starts_with("s3://") {
        let dir = PathBuf::from(to.strip_prefix("file://").unwrap_or(to));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let file = dir.join(&name);
        let taken = snapshot(&source, &file).await?;
        print_report("backup", &file.display().to_string(), &taken);
        return Ok(ExitCode::SUCCESS);
    }
    // Through a file beside the store (the data directory is writable), then up.
    let local = cfg.data_dir.join(format!(".{name}.partial"));
    let taken = snapshot(&source, &local).await;
    let uploaded = match &taken {
        Ok(_) => upload(&local, to, &name).await,
        Err(_) => Ok(String::new()),
    };
    let _ = std::fs::remove_file(&local);
    let (taken, url) = (taken?, uploaded?);
    print_report("backup", &url, &taken);
    Ok(ExitCode::SUCCESS)
}

/// `croupier restore --from FILE|s3://bucket/key`.
pub async fn restore(cfg: &Config, from: &str) -> anyhow::Result<ExitCode> {
    if cfg.database_url.is_some() {
        bail!("restore fills an embedded store; restore PostgreSQL with pg_restore or PITR (docs/operations/runbook.md)");
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let target = cfg.database_path();
    if !from.starts_with("s3://") {
        let file = PathBuf::from(from.strip_prefix("file://").unwrap_or(from));
        let restored = run_blocking(move || backup::restore(&file, &target)).await?;
        print_report(
            "restore",
            &cfg.database_path().display().to_string(),
            &restored,
        );
        return Ok(ExitCode::SUCCESS);
    }
    let local = cfg.data_dir.join(".restore-download.partial");
    let downloaded = download(from, &local).await;
    let restored = match downloaded {
        Ok(()) => {
            let (file, target) = (local.clone(), target.clone());
            run_blocking(move || backup::restore(&file, &target)).await
        }
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&local);
    print_report("restore", &target.display().to_string(), &restored?);
    Ok(ExitCode::SUCCESS)
}

/// `croupier verify-restore`: SQLite's own checks (embedded store), the ledger
/// audit and the nonce audit; a JSON report, exit 1 on any problem.
pub async fn verify_restore(cfg: &Config) -> anyhow::Result<ExitCode> {
    let storage = match &cfg.database_url {
        Some(_) => None,
        None => {
            let path = cfg.database_path();
            if !path.exists() {
                bail!(
                    "no Croupier store at {} (no {})",
                    cfg.data_dir.display(),
                    path.display()
                );
            }
            Some(run_blocking(move || backup::integrity_problems(&path)).await?)
        }
    };
    let store = crate::server::open_existing_store(cfg).await?;
    let ledger = store.audit().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let nonces = store
        .nonce_audit()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ok = ledger.ok && nonces.is_empty() && storage.as_ref().is_none_or(Vec::is_empty);
    let report = json!({ "ok": ok, "storage": storage, "ledger": ledger, "nonces": nonces });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn snapshot(source: &Path, file: &Path) -> anyhow::Result<backup::Snapshot> {
    let (source, file) = (source.to_owned(), file.to_owned());
    run_blocking(move || backup::backup(&source, &file)).await
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, backup::BackupError> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Uploads `file` as `<prefix>/<name>` (multipart, never whole in memory);
/// returns its URL.
async fn upload(file: &Path, url: &str, name: &str) -> anyhow::Result<String> {
    let at = ObjectLocation::open(url, None).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let target = format!("{}/{name}", at.base_url);
    let mut writer = BufWriter::new(at.store, at.prefix.child(name));
    let mut reader = tokio::fs::File::open(file).await?;
    let sent = async {
        tokio::io::copy(&mut reader, &mut writer).await?;
        writer.shutdown().await
    };
    sent.await
        .with_context(|| format!("cannot upload to {target}"))?;
    Ok(target)
}

/// Downloads the object `url` (s3://bucket/key) into `file`, streaming.
async fn download(url: &str, file: &Path) -> anyhow::Result<()> {
    let (parent, name) = url
        .rsplit_once('/')
        .filter(|(p, n)| !n.is_empty() && p.len() > "s3:/".len())
        .ok_or_else(|| anyhow::anyhow!("--from: s3://bucket/key of a backup file"))?;
    let at = ObjectLocation::open(parent, None).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let meta = at
        .store
        .head(&at.prefix.child(name))
        .await
        .with_context(|| format!("cannot find {url}"))?;
    let mut reader = BufReader::new(at.store, &meta);
    let mut out = tokio::fs::File::create(file).await?;
    tokio::io::copy(&mut reader, &mut out)
        .await
        .with_context(|| format!("cannot download {url}"))?;
    out.sync_all().await?;
    Ok(())
}

fn print_report(action: &str, at: &str, s: &backup::Snapshot) {
    println!(
        "{}",
        json!({ action: at, "bytes": s.bytes, "schema_version": s.schema_version })
    );
}
