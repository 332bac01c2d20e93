//! A real operator for tests: a fresh data directory, free loopback ports, the release or debug
//! `confiance` binary started as a child process, and helpers to run real clients against it.

#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "Secret123";
pub const DOMAIN: &str = "medecin.confiance.test";

pub struct Operator {
    pub dir: tempfile::TempDir,
    /// Loopback address the operator listens on (127.0.0.x: one per operator of a trust space).
    pub ip: String,
    pub domain: String,
    pub imap: u16,
    pub imaps: u16,
    pub submission: u16,
    pub submissions: u16,
    pub mx: u16,
    /// HTTPS (directory page, JSON and FHIR APIs).
    pub web: u16,
    /// ManageSieve (RFC 5804, STARTTLS).
    pub managesieve: u16,
    /// Trust anchor and TLS name clients use, when not the development PKI of the data dir.
    pub tls_override: Option<(PathBuf, String)>,
    /// More keys of the `[smtp]` table, which `launch` writes itself.
    pub smtp_extra: String,
    child: Option<Child>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_confiance")
}

/// The repository root (for test scripts under `tests/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The shared fixtures beside the repository.
pub fn fixtures() -> PathBuf {
    repo().join("../shared/fixtures")
}

impl Operator {
    /// Initialises a data directory with `accounts` (local parts in the demo domain), and starts.
    pub fn start(accounts: &[&str]) -> Operator {
        Self::start_with(accounts, "")
    }

    pub fn start_with(accounts: &[&str], extra_config: &str) -> Operator {
        let mut op = Operator::new_at("127.0.0.1", DOMAIN);
        op.launch(accounts, extra_config);
        op
    }

    /// An operator on `ip` hosting `domain`, with its ports chosen, not started yet (the peers
    /// of a trust space need each other's MX port in their routes).
    pub fn new_at(ip: &str, domain: &str) -> Operator {
        // Held until all are chosen, so that the kernel cannot hand out one port twice.
        let held: Vec<TcpListener> = (0..7).map(|_| TcpListener::bind((ip, 0)).unwrap()).collect();
        let port = |i: usize| held[i].local_addr().unwrap().port();
        Operator {
            dir: tempfile::tempdir().unwrap(),
            ip: ip.into(),
            domain: domain.into(),
            imap: port(0),
            imaps: port(1),
            submission: port(2),
            submissions: port(3),
            mx: port(4),
            web: port(5),
            managesieve: port(6),
            tls_override: None,
            smtp_extra: String::new(),
            child: None,
        }
    }

    /// Writes the configuration file: `extra_config` holds top-level keys, then any tables but
    /// `[imap]`, `[smtp]` and `[web]`.
    pub fn write_config(&self, extra_config: &str) {
        let ip = &self.ip;
        let domains = if self.domain == DOMAIN || extra_config.contains("domains") {
            String::new()
        } else {
            format!("domains = [\"{}\"]\n", self.domain)
        };
        let config = format!(
            "data_dir = \"{data}\"\n{domains}{extra_config}\n[imap]\nlisten = \"{ip}:{}\"\nlisten_tls = \"{ip}:{}\"\nmanagesieve = \"{ip}:{}\"\n\
             [smtp]\nsubmission = \"{ip}:{}\"\nsubmissions = \"{ip}:{}\"\nmx = \"{ip}:{}\"\n{smtp_extra}\
             [web]\nlisten = \"{ip}:{}\"\n",
            self.imap,
            self.imaps,
            self.managesieve,
            self.submission,
            self.submissions,
            self.mx,
            self.web,
            data = self.data_dir().display(),
            smtp_extra = self.smtp_extra,
        );
        std::fs::write(self.config_path(), config).unwrap();
    }

    /// Writes the configuration, initialises with `accounts` (local parts) and starts.
    pub fn launch(&mut self, accounts: &[&str], extra_config: &str) {
        self.write_config(extra_config);
        let op = self;
        let out = op.cli(&["init", "--no-demo"], None);
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for a in accounts {
            op.add_account(a, PASSWORD);
        }
        op.spawn();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("confiance.toml")
    }

    pub fn ca(&self) -> PathBuf {
        match &self.tls_override {
            Some((ca, _)) => ca.clone(),
            None => self.data_dir().join("ca/root.pem"),
        }
    }

    pub fn address(local: &str) -> String {
        format!("{local}@{DOMAIN}")
    }

    /// An address in this operator's domain.
    pub fn mailbox(&self, local: &str) -> String {
        format!("{local}@{}", self.domain)
    }

    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(binary());
        cmd.arg("--config").arg(self.config_path()).args(args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a CLI command that must succeed; its standard output.
    pub fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.cli(args, stdin);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn add_account(&self, local: &str, password: &str) {
        let out = self.cli(
            &["account", "add", &self.mailbox(local), "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        assert!(
            out.status.success(),
            "account add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn spawn(&mut self) {
        self.spawn_in(Command::new(binary()));
    }

    /// Starts the server under `ulimit -n files` (soft and hard), as a service manager might.
    pub fn spawn_with_file_limit(&mut self, files: u32) {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(binary());
        self.spawn_in(sh);
    }

    fn spawn_in(&mut self, mut command: Command) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = command
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .env("CONFIANCE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [
            self.imap,
            self.imaps,
            self.managesieve,
            self.submission,
            self.submissions,
            self.mx,
            self.web,
        ] {
            while TcpStream::connect((self.ip.as_str(), port)).is_err() {
                assert!(Instant::now() < deadline, "server did not start; log:\n{}", self.log());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGKILL: no shutdown path runs, as in a power cut of the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs a Python client script from `tests/clients/` with the operator's coordinates in its
    /// environment; returns its stdout, panicking with its output on failure.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let out = self.python_output(script, args);
        assert!(
            out.status.success(),
            "{script} failed:\n--- stdout\n{}\n--- stderr\n{}\n--- server log\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn python_output(&self, script: &str, args: &[&str]) -> Output {
        Command::new("python3")
            .arg(repo().join("tests/clients").join(script))
            .args(args)
            .envs(self.env())
            .output()
            .expect("python3 must be installed")
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CONFIANCE_HOST".into(), self.ip.clone()),
            ("CONFIANCE_MX".into(), self.mx.to_string()),
            ("CONFIANCE_WEB".into(), self.web.to_string()),
            (
                "CONFIANCE_TLS_NAME".into(),
                self.tls_override
                    .as_ref()
                    .map(|t| t.1.clone())
                    .unwrap_or_else(|| self.ip.clone()),
            ),
            ("CONFIANCE_IMAP".into(), self.imap.to_string()),
            ("CONFIANCE_IMAPS".into(), self.imaps.to_string()),
            ("CONFIANCE_SUBMISSION".into(), self.submission.to_string()),
            ("CONFIANCE_SUBMISSIONS".into(), self.submissions.to_string()),
            ("CONFIANCE_MANAGESIEVE".into(), self.managesieve.to_string()),
            ("CONFIANCE_CA".into(), self.ca().display().to_string()),
            ("CONFIANCE_DOMAIN".into(), self.domain.clone()),
            ("CONFIANCE_PASSWORD".into(), PASSWORD.into()),
        ]
    }

    /// The HTTP status curl gets for `url`, verifying the operator's certificate.
    pub fn http_status(&self, url: &str) -> String {
        let out = self.run(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                self.ca().to_str().unwrap(),
                url,
            ],
        );
        text(&out).trim().to_string()
    }

    /// Waits until the web answers (the login page), up to 30 s.
    pub fn wait_for_web(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("https://127.0.0.1:{}/connexion", self.web);
        loop {
            let status = self.http_status(&url);
            if status == "200" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "web never answered: {status}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// swaks against the submission port over verified STARTTLS, with `args` after; whether it
    /// succeeded, and what it said.
    pub fn swaks(&self, args: &[&str]) -> (bool, String) {
        let port = self.submission.to_string();
        let ca = self.ca();
        let mut all = vec![
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            ca.to_str().unwrap(),
            "--helo",
            "cabinet.test",
        ];
        all.extend_from_slice(args);
        let out = self.run("swaks", &all);
        (out.status.success(), text(&out))
    }

    /// A browser walk, `tests/browser/<script>`, against this operator: its coordinates,
    /// `REPO`, `SCREENSHOTS` (`target/screenshots/<shots>`, emptied first so that only this
    /// run's pictures count) and `env`. What node printed, and the screenshots' folder.
    pub fn walk(&self, script: &str, shots: &str, env: &[(&str, String)]) -> (Output, PathBuf) {
        let folder = repo().join("target/screenshots").join(shots);
        let _ = std::fs::remove_dir_all(&folder);
        let out = Command::new("node")
            .arg(repo().join("tests/browser").join(script))
            .envs(self.env())
            .env("SCREENSHOTS", &folder)
            .env("REPO", repo())
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .output()
            .expect("node must be installed (.ci/run installs the browser tests' packages)");
        (out, folder)
    }

    /// Runs an external client (curl, swaks, mbsync) and returns its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program} must be installed (.ci/run installs it): {e}"))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The configuration of an operator of a test trust space made by `confiance authority`
/// under `space`: its MTA's certificate and key, the space's root, whitelist and CRL, fast
/// retries, and a route to each peer (`domain`, the peer's MTA name, the peer).
pub fn operator_config(space: &Path, host: &str, routes: &[(&str, &str, &Operator)]) -> String {
    let mut c = format!(
        "hostname = \"{host}\"\noperator = \"{host}\"\n\
         [tls]\ncertificate = \"{dir}/operators/{host}/server.pem\"\nprivate_key = \"{dir}/operators/{host}/server.key\"\n\
         [trust]\nanchors = \"{dir}/ca/root.pem\"\nwhitelist = \"{dir}/listeblanchemssante.xml\"\ncrls = [\"{dir}/ca/crl.pem\"]\n\
         [relay]\nretry_seconds = [1]\ndelay_notice_seconds = 2\n",
        dir = space.display()
    );
    for (domain, peer_host, peer) in routes {
        c.push_str(&format!(
            "[relay.routes.\"{domain}\"]\nhost = \"{peer_host}\"\naddress = \"{}:{}\"\n",
            peer.ip, peer.mx
        ));
    }
    c
}

/// The operator's log once it holds `needle` (30 s at most).
pub fn wait_for_log(op: &Operator, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = op.log();
        if log.contains(needle) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A trust space made by `confiance authority create` from `spec` (TOML): the temporary folder
/// that holds it, and its root (`ca/`, `operators/<host>/`, the whitelist).
pub fn authority_space(spec: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let out = Command::new(binary())
        .args(["authority", "create", "--spec"])
        .arg(dir.path().join("spec.toml"))
        .arg("--out")
        .arg(dir.path().join("space"))
        .output()
        .unwrap();
    assert!(out.status.success(), "authority create: {}", text(&out));
    let root = dir.path().join("space");
    (dir, root)
}
