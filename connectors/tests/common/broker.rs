//! A real Kafka-protocol broker for tests: tansu, in memory, on a free loopback port, stopped
//! when dropped. Shared by the connectors' and the CLI's tests (the CLI includes this file).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Broker {
    child: Child,
    pub address: String,
}

impl Broker {
    pub fn start() -> Broker {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // 127.0.0.1, not localhost: clients must reach the address the broker advertises.
        let address = format!("127.0.0.1:{port}");
        let child = Command::new("tansu")
            .args([
                "broker",
                "--storage-engine=memory://tansu/",
                &format!("--listener-url=tcp://{address}"),
                &format!("--advertised-listener-url=tcp://{address}"),
            ])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu is needed on the path: scripts/test installs it into target/tools/bin (or cargo install tansu@0.6.0 --features dynostore --locked)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start on {address}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, address }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
