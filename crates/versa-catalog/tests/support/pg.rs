//! A throwaway PostgreSQL server for the tests, started by the test binary
//! itself: one server per test binary, one fresh database per test.
//!
//! The server runs from `initdb`/`pg_ctl`/`postgres` found on `PATH` or under
//! `/usr/lib/postgresql/*/bin`, with its data directory and unix socket in a
//! temporary directory, listening on a free loopback port, with `fsync=off`
//! (the data is thrown away). PostgreSQL refuses to run as root, so as root
//! the server runs as the `postgres` user. A watchdog shell stops the server
//! and removes its directory once the test process has exited (Rust runs no
//! destructors for statics, so nothing in-process could).
//!
//! `VERSA_TEST_POSTGRES_URL` (for example `postgres://me:pw@127.0.0.1:5432/postgres`)
//! uses that server instead; the tests create their databases on it.
//!
//! When no server can be had the tests fail with what is missing. Outside CI
//! (`CI` unset or not `true`), `VERSA_TEST_SKIP_POSTGRES=1` turns the
//! PostgreSQL cases into explicit skips; under CI it is ignored.
//!
//! Knows nothing about the catalog.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// A running server: the URL of its maintenance database.
struct Server {
    admin_url: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// Whether the PostgreSQL cases may be skipped here (never under CI).
pub(crate) fn skip_requested() -> bool {
    let under_ci = std::env::var("CI").is_ok_and(|value| value == "true");
    !under_ci && std::env::var("VERSA_TEST_SKIP_POSTGRES").is_ok_and(|value| value == "1")
}

/// Creates a fresh, empty database and returns its URL.
///
/// Panics (failing the test) with what is missing when no server can be had.
pub(crate) async fn fresh_database() -> String {
    let server = SERVER.get_or_init(start_or_use_configured);
    let server = match server {
        Ok(server) => server,
        Err(reason) => panic!(
            "PostgreSQL is needed for the `postgres::` test cases and could not be started: \
             {reason}. Install it (`apt-get install -y postgresql`), point \
             VERSA_TEST_POSTGRES_URL at a server, or (outside CI only) set \
             VERSA_TEST_SKIP_POSTGRES=1"
        ),
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(&server.admin_url)
        .await
        .unwrap_or_else(|error| panic!("connect to test server {}: {error}", server.admin_url));
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|error| panic!("create test database {name}: {error}"));
    admin.close().await.ok();
    with_database(&server.admin_url, &name)
}

/// `url` with its database replaced by `database` (query string kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

fn start_or_use_configured() -> Result<Server, String> {
    if let Ok(url) = std::env::var("VERSA_TEST_POSTGRES_URL") {
        return Ok(Server { admin_url: url });
    }
    start()
}

fn start() -> Result<Server, String> {
    let initdb = find_binary("initdb")?;
    let pg_ctl = find_binary("pg_ctl")?;
    find_binary("postgres")?;
    let as_root = effective_uid()? == 0;
    if as_root && !run(Command::new("id").args(["-u", "postgres"]))?.0 {
        return Err(
            "running as root, and PostgreSQL refuses root, but there is no `postgres` user \
             (create it: `useradd --system postgres`)"
                .to_string(),
        );
    }
    let root = tempfile::Builder::new()
        .prefix("versa-test-pg-")
        .tempdir()
        .map_err(|error| format!("cannot create a temporary directory: {error}"))?
        .keep();
    let data = root.join("data");
    let socket_dir = root.join("socket");
    std::fs::create_dir(&socket_dir)
        .map_err(|error| format!("cannot create {}: {error}", socket_dir.display()))?;
    if as_root {
        let (ok, output) = run(Command::new("chown").args(["-R", "postgres:"]).arg(&root))?;
        if !ok {
            return Err(format!(
                "cannot chown {} to postgres: {output}",
                root.display()
            ));
        }
    }
    let as_server_user = |program: &Path| {
        if as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    };

    let (ok, output) = run(as_server_user(&initdb)
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-locale"])
        .args(["--encoding=UTF8", "--no-sync"]))?;
    if !ok {
        return Err(format!("initdb failed: {output}"));
    }

    let log = root.join("server.log");
    let mut last_error = String::new();
    // A free port can be taken between finding it and the server binding
    // it; another port is then tried.
    for _ in 0..3 {
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            socket_dir.display()
        );
        let (ok, output) = run(as_server_user(&pg_ctl)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]))?;
        if ok {
            spawn_watchdog(&pg_ctl, &data, &root, as_root)?;
            return Ok(Server {
                admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            });
        }
        let server_log = std::fs::read_to_string(&log).unwrap_or_default();
        last_error = format!("pg_ctl start failed: {output}; server log: {server_log}");
    }
    Err(last_error)
}

/// Stops the server and deletes its directory once this process is gone.
fn spawn_watchdog(pg_ctl: &Path, data: &Path, root: &Path, as_root: bool) -> Result<(), String> {
    let stop = format!(
        "{}'{}' -D '{}' -m immediate stop",
        if as_root {
            "runuser -u postgres -- "
        } else {
            ""
        },
        pg_ctl.display(),
        data.display()
    );
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{root}'",
        pid = std::process::id(),
        root = root.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|error| format!("cannot start the server's watchdog shell: {error}"))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free loopback port: {error}"))
}

/// Runs a command to completion: whether it succeeded, and its output.
fn run(command: &mut Command) -> Result<(bool, String), String> {
    let description = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {description}: {error}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text.trim().to_string()))
}

/// `name` on `PATH`, else in the newest `/usr/lib/postgresql/*/bin` (Debian's layout).
fn find_binary(name: &str) -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    // Newest major version first ("9.6" < "15" compares numerically here).
    debian.sort_by_key(|dir| {
        let version = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|name| name.to_str())
            .and_then(|name| name.split('.').next())
            .and_then(|major| major.parse::<u32>().ok())
            .unwrap_or(0);
        std::cmp::Reverse(version)
    });
    on_path
        .into_iter()
        .chain(debian)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!("`{name}` was not found on PATH nor under /usr/lib/postgresql/*/bin")
        })
}

/// The effective user id, from /proc (no libc call: the crate forbids unsafe).
fn effective_uid() -> Result<u32, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|error| format!("cannot read /proc/self/status to find the user: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .ok_or_else(|| "no effective uid in /proc/self/status".to_string())
}

#[test]
fn database_urls_keep_the_server_and_query() {
    assert_eq!(
        with_database("postgres://a:b@h:5/postgres?sslmode=disable", "t_1"),
        "postgres://a:b@h:5/t_1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:5", "t_2"), "postgres://h:5/t_2");
}
