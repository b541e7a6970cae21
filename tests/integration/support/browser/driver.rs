//! One chromedriver process per browser test: started on a port it picks itself, stopped on
//! drop together with the Chromium it launched.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// util-linux's setpriv: ties a child's life to its parent's (`--pdeathsig`).
const SETPRIV: &str = "/usr/bin/setpriv";

/// Writes into `dir` the program chromedriver is told to start as Chromium: Debian's Chromium
/// under `setpriv --pdeathsig KILL`, so that Chromium dies with its chromedriver even when
/// chromedriver could not close it (chromedriver itself killed). Returns its path.
pub fn chromium_launcher(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    if !Path::new(SETPRIV).exists() {
        return CHROMIUM.to_owned();
    }
    let launcher = dir.join("chromium");
    std::fs::write(
        &launcher,
        format!("#!/bin/sh\nexec {SETPRIV} --pdeathsig KILL -- {CHROMIUM} \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    launcher.display().to_string()
}

/// A running chromedriver.
pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts chromedriver on a free loopback port, logging to `log`.
    pub fn start(log: &Path) -> Chromedriver {
        for program in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install chromium and chromium-driver \
                 (apt-get install chromium chromium-driver; tests/run.sh does it)"
            );
        }
        // setpriv makes the kernel end chromedriver if this test's thread dies without running
        // Drop (the test binary killed), and chromium_launcher ends Chromium with it: nothing
        // is left behind listening on loopback
        let mut cmd = if Path::new(SETPRIV).exists() {
            let mut c = Command::new(SETPRIV);
            c.args(["--pdeathsig", "TERM", "--", CHROMEDRIVER]);
            c
        } else {
            Command::new(CHROMEDRIVER)
        };
        // port 0: chromedriver binds a free port and prints it, so parallel tests never race
        // for one
        let mut child = cmd
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // reads the port, then keeps draining stdout so chromedriver never blocks on a full pipe
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(port) => Chromedriver { child, port },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{CHROMEDRIVER} did not report its port within 15 s (log: {})",
                    log.display()
                )
            }
        }
    }

    /// The WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Asks chromedriver to quit its sessions (closing Chromium) and exit.
    fn shutdown(&self) {
        let Ok(mut s) = std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_secs(1),
        ) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ =
            s.write_all(b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let _ = std::io::Read::read(&mut s, &mut [0u8; 256]);
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // a SIGKILL alone would orphan Chromium: ask politely first, then insist
        self.shutdown();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
