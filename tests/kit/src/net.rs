//! Ports and loopback connections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The bound on every wait for the server's answer on a socket.
pub const WAIT: Duration = Duration::from_secs(30);

/// A port free now on 127.0.0.1 (another process may take it before it is used: see
/// [`crate::start_on_free_ports`]).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A blocking connection to `127.0.0.1:port` from `src` (any 127.x.y.z: 127.0.0.0/8 is all
/// loopback on Linux, so clients on different /24 subnets land in different session
/// groups). std cannot bind before connecting; tokio's socket can.
pub fn connect_from(src: Ipv4Addr, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(IpAddr::V4(src), 0))?;
            socket
                .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .await
        })
        .unwrap_or_else(|e| panic!("connect from {src} to port {port}: {e}"));
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}
