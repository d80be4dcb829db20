//! The transports (`ferrumx::transport`) over loopback: line framing as
//! aiorpcX's `NewlineFramer` does it (oversized lines skipped, memory bounded), TLS 1.2 and
//! 1.3 with RSA, ECDSA and Ed25519 keys, websockets plain and over TLS, certificate loading
//! errors, and binding (IPv4, IPv6, names, all interfaces, SO_REUSEADDR).
//!
//! Every test binds port 0 on loopback and is bounded by timeouts.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumx::config::{Protocol, Service, ServiceHost};
use ferrumx::transport::{
    load_tls_config, Accepted, Connection, Listener, MessageReader, MessageWriter, RecvError,
    TlsConfigError,
};
use ferrumx_testkit::tls::{self, rcgen, SelfSigned};
use ferrumx_testkit::TempDir;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ProtocolVersion;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// The bound on every network wait.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Awaits `f`, failing the test after [`WAIT`].
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match timeout(WAIT, f).await {
        Ok(output) => output,
        Err(_) => panic!("timed out: {what}"),
    }
}

fn service(protocol: Protocol, ip: IpAddr) -> Service {
    Service::new(protocol, ServiceHost::Ip(ip), 0)
}

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Binds `protocol` on 127.0.0.1, port 0.
async fn listen(
    protocol: Protocol,
    tls: Option<Arc<rustls::ServerConfig>>,
    max_recv: usize,
) -> (Listener, SocketAddr) {
    let listener = Listener::bind(&service(protocol, LOCALHOST), tls, max_recv)
        .await
        .expect("bind");
    let addrs = listener.local_addrs();
    assert_eq!(addrs.len(), 1, "{addrs:?}");
    assert_eq!(listener.protocol(), protocol);
    (listener, addrs[0])
}

/// Accepts one connection and completes its handshake.
async fn accept(listener: &Listener) -> Connection {
    let incoming = within("accept", listener.accept()).await.expect("accept");
    within("handshake", incoming.handshake())
        .await
        .expect("handshake")
}

/// A plain TCP client and the server's side of its connection.
async fn tcp_pair(max_recv: usize) -> (Connection, TcpStream) {
    let (listener, addr) = listen(Protocol::Tcp, None, max_recv).await;
    let (client, conn) = tokio::join!(TcpStream::connect(addr), accept(&listener));
    let client = client.expect("connect");
    assert_eq!(conn.peer, client.local_addr().expect("client addr"));
    assert_eq!(conn.protocol, Protocol::Tcp);
    (conn, client)
}

async fn recv(reader: &mut MessageReader) -> Result<Option<Vec<u8>>, RecvError> {
    within("recv", reader.recv()).await
}

/// The next message, which must be one.
async fn recv_msg(reader: &mut MessageReader) -> Vec<u8> {
    match recv(reader).await {
        Ok(Some(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn assert_too_large(result: Result<Option<Vec<u8>>, RecvError>, limit: usize) {
    match result {
        Err(RecvError::TooLarge { limit: l }) => assert_eq!(l, limit),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// Reads one `\n`-terminated line from a client stream, newline included.
async fn read_line<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> String {
    let mut line = String::new();
    within("read_line", reader.read_line(&mut line))
        .await
        .expect("read_line");
    line
}

// ---------------------------------------------------------------------------------------
// TLS material
// ---------------------------------------------------------------------------------------

/// A certificate and its key, as PEM.
struct Pem {
    cert: String,
    key: String,
}

fn rcgen_pem(alg: &'static rcgen::SignatureAlgorithm) -> Pem {
    let s = SelfSigned::new(alg);
    Pem {
        cert: s.cert_pem,
        key: s.key_pem,
    }
}

/// Writes the PEM files and loads them as the server would.
fn server_tls(dir: &TempDir, pem: &Pem) -> (Arc<rustls::ServerConfig>, CertificateDer<'static>) {
    let cert = dir.write("cert.pem", &pem.cert);
    let key = dir.write("key.pem", &pem.key);
    let config = load_tls_config(&cert, &key).expect("load_tls_config");
    let der = {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.cert.as_bytes()).expect("cert der")
    };
    (config, der)
}

/// A TLS client limited to `version` that trusts `cert` only.
fn tls_connector(
    cert: CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
) -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(tls::client_config(cert.as_ref(), &[version]))
}

type ClientTls = tokio_rustls::client::TlsStream<TcpStream>;

async fn tls_connect(connector: &tokio_rustls::TlsConnector, addr: SocketAddr) -> ClientTls {
    let tcp = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    within("client TLS handshake", connector.connect(name, tcp))
        .await
        .expect("client TLS handshake")
}

fn negotiated(stream: &ClientTls) -> Option<ProtocolVersion> {
    stream.get_ref().1.protocol_version()
}

// ---------------------------------------------------------------------------------------
// Line framing over TCP
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tcp_round_trip() {
    let (mut conn, client) = tcp_pair(1_000_000).await;
    let (client_read, mut client_write) = client.into_split();
    let mut client_read = BufReader::new(client_read);

    // Several messages in one write; an empty line is an empty message; \r\n is a newline.
    let batch = b"{\"id\":1}\n{\"id\":2}\r\n\n\r\n[]\n";
    client_write.write_all(batch).await.expect("write");
    let mut sent = batch.len();
    assert_eq!(recv_msg(&mut conn.reader).await, b"{\"id\":1}");
    assert_eq!(recv_msg(&mut conn.reader).await, b"{\"id\":2}");
    assert_eq!(recv_msg(&mut conn.reader).await, b"");
    assert_eq!(recv_msg(&mut conn.reader).await, b"");
    assert_eq!(recv_msg(&mut conn.reader).await, b"[]");

    // One message over several writes, with pauses so that they arrive apart.
    for part in [&b"{\"method\":"[..], b"\"server.ver", b"sion\"}", b"\n"] {
        client_write.write_all(part).await.expect("write");
        sent += part.len();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        recv_msg(&mut conn.reader).await,
        b"{\"method\":\"server.version\"}"
    );
    // Only one \r is stripped, and only at the end.
    client_write.write_all(b"a\rb\r\r\n").await.expect("write");
    sent += 6;
    assert_eq!(recv_msg(&mut conn.reader).await, b"a\rb\r");

    // Outgoing messages get a newline each.
    conn.writer.send(b"{\"result\":1}").await.expect("send");
    conn.writer.send(b"").await.expect("send");
    assert_eq!(read_line(&mut client_read).await, "{\"result\":1}\n");
    assert_eq!(read_line(&mut client_read).await, "\n");

    // Bytes received so far: every byte, newlines included.
    assert_eq!(conn.reader.bytes_received(), sent as u64);

    // Close: the client sees EOF; the client's EOF ends the reader.
    within("close", conn.writer.close()).await.expect("close");
    let mut rest = Vec::new();
    within("client eof", client_read.read_to_end(&mut rest))
        .await
        .expect("read to end");
    assert!(rest.is_empty());
    assert!(conn.writer.send(b"late").await.is_err());
    within("second close", conn.writer.close())
        .await
        .expect("second close is a no-op");
    drop(client_write);
    assert!(recv(&mut conn.reader).await.expect("eof").is_none());
}

#[tokio::test]
async fn rpc_service_is_line_framed() {
    let (listener, addr) = listen(Protocol::Rpc, None, 1_000_000).await;
    let (client, conn) = tokio::join!(TcpStream::connect(addr), accept(&listener));
    let mut client = client.expect("connect");
    let mut conn = conn;
    assert_eq!(conn.protocol, Protocol::Rpc);
    client
        .write_all(b"{\"method\":\"getinfo\"}\n")
        .await
        .expect("write");
    assert_eq!(
        recv_msg(&mut conn.reader).await,
        b"{\"method\":\"getinfo\"}"
    );
    conn.writer.send(b"{}").await.expect("send");
    let mut reply = [0u8; 3];
    within("reply", client.read_exact(&mut reply))
        .await
        .expect("read");
    assert_eq!(&reply, b"{}\n");
}

#[tokio::test]
async fn partial_line_at_eof_is_dropped() {
    let (mut conn, mut client) = tcp_pair(1_000_000).await;
    client
        .write_all(b"{\"id\":1}\n{\"id\":")
        .await
        .expect("write");
    client.shutdown().await.expect("shutdown");
    assert_eq!(recv_msg(&mut conn.reader).await, b"{\"id\":1}");
    assert!(recv(&mut conn.reader).await.expect("eof").is_none());
    assert!(recv(&mut conn.reader).await.expect("still eof").is_none());
}

#[tokio::test]
async fn oversized_line_is_skipped_and_the_stream_resynchronises() {
    const LIMIT: usize = 100;
    let (mut conn, mut client) = tcp_pair(LIMIT).await;

    // Exactly the limit is fine; the \r of \r\n counts.
    let exact = vec![b'a'; LIMIT];
    client.write_all(&exact).await.expect("write");
    client.write_all(b"\n").await.expect("write");
    assert_eq!(recv_msg(&mut conn.reader).await, exact);
    let mut crlf = vec![b'b'; LIMIT - 1];
    crlf.extend_from_slice(b"\r\n");
    client.write_all(&crlf).await.expect("write");
    assert_eq!(recv_msg(&mut conn.reader).await, vec![b'b'; LIMIT - 1]);
    let mut crlf = vec![b'c'; LIMIT];
    crlf.extend_from_slice(b"\r\n");
    client.write_all(&crlf).await.expect("write");
    assert_too_large(recv(&mut conn.reader).await, LIMIT);

    // One byte over, newline in the same write: refused, the next line arrives.
    let mut over = vec![b'd'; LIMIT + 1];
    over.extend_from_slice(b"\n{\"id\":2}\n");
    client.write_all(&over).await.expect("write");
    assert_too_large(recv(&mut conn.reader).await, LIMIT);
    assert_eq!(recv_msg(&mut conn.reader).await, b"{\"id\":2}");

    // An oversized line reported before its end has arrived; its tail is discarded.
    client.write_all(&[b'e'; 250]).await.expect("write");
    assert_too_large(recv(&mut conn.reader).await, LIMIT);
    tokio::time::sleep(Duration::from_millis(20)).await;
    client
        .write_all(b"tail of the big line\n{\"id\":3}\n")
        .await
        .expect("write");
    assert_eq!(recv_msg(&mut conn.reader).await, b"{\"id\":3}");

    // The connection is still fully usable.
    conn.writer
        .send(b"{\"id\":3,\"result\":null}")
        .await
        .expect("send");
    let mut reader = BufReader::new(&mut client);
    assert_eq!(read_line(&mut reader).await, "{\"id\":3,\"result\":null}\n");
}

/// The resident set size of this process, where /proc tells it.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test]
async fn flood_without_newline_keeps_memory_bounded() {
    const LIMIT: usize = 1_000_000;
    const FLOOD: usize = 50 * 1024 * 1024;
    let (mut conn, client) = tcp_pair(LIMIT).await;
    let rss_before = rss_bytes();
    let sent = Arc::new(AtomicU64::new(0));
    let sent_by_writer = sent.clone();
    let writer = tokio::spawn(async move {
        let mut client = client;
        let chunk = vec![b'x'; 64 * 1024];
        let mut total = 0;
        while total < FLOOD {
            client.write_all(&chunk).await?;
            total += chunk.len();
            sent_by_writer.store(total as u64, Ordering::Relaxed);
        }
        client.write_all(b"\n{\"id\":1}\n").await?;
        client.shutdown().await?;
        Ok::<_, std::io::Error>(client)
    });

    let started = Instant::now();
    assert_too_large(recv(&mut conn.reader).await, LIMIT);
    let first_after = started.elapsed();
    let sent_at_first = sent.load(Ordering::Relaxed);
    // Prompt: refused after about LIMIT bytes, long before the flood is over (only socket
    // buffers can be ahead of the reader).
    assert!(
        sent_at_first < (FLOOD / 2) as u64,
        "first error only after {sent_at_first} bytes were sent"
    );
    assert!(first_after < Duration::from_secs(10), "{first_after:?}");

    let mut errors = 1;
    let mut peak_rss = rss_bytes();
    let message = loop {
        match recv(&mut conn.reader).await {
            Err(RecvError::TooLarge { limit }) => {
                assert_eq!(limit, LIMIT);
                errors += 1;
                peak_rss = peak_rss.max(rss_bytes());
            }
            Ok(Some(message)) => break message,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(message, b"{\"id\":1}");
    // aiorpcX raises again for every further MAX_RECV bytes discarded.
    assert!(
        (40..=53).contains(&errors),
        "{errors} errors for a 50 MiB line"
    );
    assert!(recv(&mut conn.reader).await.expect("eof").is_none());
    assert_eq!(conn.reader.bytes_received(), FLOOD as u64 + 10);
    within("writer", writer)
        .await
        .expect("join")
        .expect("writer");
    if let (Some(before), Some(peak)) = (rss_before, peak_rss) {
        let growth = peak.saturating_sub(before);
        assert!(
            growth < 32 * 1024 * 1024,
            "resident memory grew by {growth} bytes while a 50 MiB line was refused"
        );
    } else {
        println!("no /proc/self/status: memory growth not measured");
    }
}

#[tokio::test]
async fn halves_are_send_and_independent() {
    fn assert_send_static<T: Send + 'static>() {}
    assert_send_static::<Listener>();
    assert_send_static::<Accepted>();
    assert_send_static::<Connection>();
    assert_send_static::<MessageReader>();
    assert_send_static::<MessageWriter>();

    let (conn, client) = tcp_pair(1_000_000).await;
    let Connection {
        mut reader,
        mut writer,
        ..
    } = conn;
    // The reader waits in one task while the writer sends from another.
    let reading = tokio::spawn(async move { reader.recv().await.map(|m| (m, reader)) });
    let writing = tokio::spawn(async move { writer.send(b"{\"id\":0}").await.map(|()| writer) });
    let mut client = BufReader::new(client);
    assert_eq!(read_line(&mut client).await, "{\"id\":0}\n");
    within("writer task", writing)
        .await
        .expect("join")
        .expect("send");
    client.get_mut().write_all(b"ping\n").await.expect("write");
    let (message, _reader) = within("reader task", reading)
        .await
        .expect("join")
        .expect("recv");
    assert_eq!(message.as_deref(), Some(&b"ping"[..]));
}

// ---------------------------------------------------------------------------------------
// SSL
// ---------------------------------------------------------------------------------------

/// Round trip over `ssl` with the given certificate, for TLS 1.2 and TLS 1.3.
async fn ssl_round_trip(tag: &str, pem: Pem) {
    let dir = TempDir::created(tag);
    let (tls, cert) = server_tls(&dir, &pem);
    let (listener, addr) = listen(Protocol::Ssl, Some(tls), 1_000_000).await;
    for (version, expected) in [
        (&rustls::version::TLS12, ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, ProtocolVersion::TLSv1_3),
    ] {
        let connector = tls_connector(cert.clone(), version);
        let (client, conn) = tokio::join!(tls_connect(&connector, addr), accept(&listener));
        let mut conn = conn;
        assert_eq!(conn.protocol, Protocol::Ssl);
        assert_eq!(negotiated(&client), Some(expected), "{tag}");
        let (client_read, mut client_write) = tokio::io::split(client);
        let mut client_read = BufReader::new(client_read);

        client_write
            .write_all(b"{\"id\":1}\n{\"id\":2}\n{\"id\"")
            .await
            .expect("write");
        client_write.write_all(b":3}\n").await.expect("write");
        client_write.flush().await.expect("flush");
        for id in 1..=3 {
            assert_eq!(
                recv_msg(&mut conn.reader).await,
                format!("{{\"id\":{id}}}").into_bytes()
            );
        }
        conn.writer
            .send(b"{\"result\":\"ok\"}")
            .await
            .expect("send");
        assert_eq!(read_line(&mut client_read).await, "{\"result\":\"ok\"}\n");

        // close sends close_notify: the client sees a clean EOF, not a truncation error.
        within("close", conn.writer.close()).await.expect("close");
        let mut rest = Vec::new();
        within("client eof", client_read.read_to_end(&mut rest))
            .await
            .expect("clean TLS EOF");
        assert!(rest.is_empty());
        // The client's close_notify ends the server's reader.
        client_write.shutdown().await.expect("client shutdown");
        assert!(
            recv(&mut conn.reader).await.expect("eof").is_none(),
            "{tag}"
        );
    }
}

#[tokio::test]
async fn ssl_ecdsa_p256_pkcs8() {
    ssl_round_trip("p256", rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256)).await;
}

#[tokio::test]
async fn ssl_ecdsa_p384_pkcs8() {
    ssl_round_trip("p384", rcgen_pem(&rcgen::PKCS_ECDSA_P384_SHA384)).await;
}

#[tokio::test]
async fn ssl_ed25519_pkcs8() {
    ssl_round_trip("ed25519", rcgen_pem(&rcgen::PKCS_ED25519)).await;
}

/// ring cannot generate RSA keys, so this one is a fixture made with openssl.
#[tokio::test]
async fn ssl_rsa_pkcs1() {
    let pem = Pem {
        cert: RSA_CERT.to_owned(),
        key: RSA_PKCS1_KEY.to_owned(),
    };
    ssl_round_trip("rsa", pem).await;
}

#[tokio::test]
async fn ssl_ec_sec1() {
    let pem = Pem {
        cert: EC_CERT.to_owned(),
        key: EC_SEC1_KEY.to_owned(),
    };
    ssl_round_trip("sec1", pem).await;
}

#[tokio::test]
async fn ssl_peer_vanishing_without_close_notify_is_eof() {
    let dir = TempDir::created("vanish");
    let (tls, cert) = server_tls(&dir, &rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256));
    let (listener, addr) = listen(Protocol::Ssl, Some(tls), 1_000_000).await;
    let connector = tls_connector(cert, &rustls::version::TLS13);
    let (client, conn) = tokio::join!(tls_connect(&connector, addr), accept(&listener));
    let mut conn = conn;
    let mut client = client;
    client
        .write_all(b"{\"id\":1}\n{\"id\"")
        .await
        .expect("write");
    client.flush().await.expect("flush");
    assert_eq!(recv_msg(&mut conn.reader).await, b"{\"id\":1}");
    // End the TCP connection under the TLS session: FIN, no close_notify. (Dropping the
    // socket instead may reset the connection, since the client never read the session
    // tickets; a reset is an I/O error, not an EOF.)
    client.get_mut().0.shutdown().await.expect("tcp shutdown");
    assert!(recv(&mut conn.reader).await.expect("eof").is_none());
}

#[tokio::test]
async fn slow_handshake_does_not_delay_accept() {
    let dir = TempDir::created("slow");
    let (tls, cert) = server_tls(&dir, &rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256));
    let (listener, addr) = listen(Protocol::Ssl, Some(tls), 1_000_000).await;

    // A client that connects and never says anything.
    let silent = TcpStream::connect(addr).await.expect("connect");
    let stuck = within("accept silent", listener.accept())
        .await
        .expect("accept");
    assert_eq!(stuck.peer, silent.local_addr().expect("addr"));
    let stuck_handshake = tokio::spawn(timeout(Duration::from_secs(60), stuck.handshake()));

    // A well-behaved client is accepted and served meanwhile.
    let connector = tls_connector(cert, &rustls::version::TLS13);
    let (client, conn) = tokio::join!(tls_connect(&connector, addr), accept(&listener));
    let mut conn = conn;
    let mut client = client;
    client.write_all(b"hello\n").await.expect("write");
    client.flush().await.expect("flush");
    assert_eq!(recv_msg(&mut conn.reader).await, b"hello");

    // The stuck handshake fails once its peer goes.
    drop(silent);
    let result = within("stuck handshake", stuck_handshake)
        .await
        .expect("join")
        .expect("not timed out");
    assert!(result.is_err());
}

#[tokio::test]
async fn plaintext_client_on_ssl_port_fails_the_handshake() {
    let dir = TempDir::created("plain-on-ssl");
    let (tls, _) = server_tls(&dir, &rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256));
    let (listener, addr) = listen(Protocol::Ssl, Some(tls), 1_000_000).await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"{\"id\":0,\"method\":\"server.version\"}\n")
        .await
        .expect("write");
    let incoming = within("accept", listener.accept()).await.expect("accept");
    let result = within("handshake", incoming.handshake()).await;
    assert!(result.is_err());
}

// ---------------------------------------------------------------------------------------
// Websockets
// ---------------------------------------------------------------------------------------

/// Exercises a websocket connection: `client` is the client's end, `conn` the server's.
async fn ws_exchange<S>(mut client: tokio_tungstenite::WebSocketStream<S>, mut conn: Connection)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A text message in.
    client
        .send(Message::text("{\"id\":1,\"method\":\"server.ping\"}"))
        .await
        .expect("client send");
    assert_eq!(
        recv_msg(&mut conn.reader).await,
        b"{\"id\":1,\"method\":\"server.ping\"}"
    );
    // A binary message and an empty one in; a ping is answered, not delivered.
    client
        .send(Message::Ping(b"p".to_vec().into()))
        .await
        .expect("ping");
    client
        .send(Message::binary(b"[1,2]".to_vec()))
        .await
        .expect("client send");
    client.send(Message::text("")).await.expect("client send");
    assert_eq!(recv_msg(&mut conn.reader).await, b"[1,2]");
    assert_eq!(recv_msg(&mut conn.reader).await, b"");
    assert_eq!(
        conn.reader.bytes_received(),
        "{\"id\":1,\"method\":\"server.ping\"}".len() as u64 + 5
    );

    // A text message out, without a newline.
    conn.writer
        .send(b"{\"id\":1,\"result\":null}")
        .await
        .expect("send");
    let mut got_pong = false;
    loop {
        match within("client next", client.next()).await {
            Some(Ok(Message::Pong(data))) => {
                assert_eq!(&data[..], b"p");
                got_pong = true;
            }
            Some(Ok(Message::Text(text))) => {
                assert_eq!(text.as_str(), "{\"id\":1,\"result\":null}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(got_pong);

    // The client closes: the reader ends; the writer completes the close.
    client
        .send(Message::Close(None))
        .await
        .expect("client close");
    assert!(recv(&mut conn.reader).await.expect("closed").is_none());
    within("close", conn.writer.close()).await.expect("close");
    match within("client close reply", client.next()).await {
        Some(Ok(Message::Close(_))) | None => {}
        other => panic!("expected the close reply, got {other:?}"),
    }
}

#[tokio::test]
async fn ws_round_trip() {
    let (listener, addr) = listen(Protocol::Ws, None, 1_000_000).await;
    let client = async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
            .await
            .expect("client handshake")
            .0
    };
    let (client, conn) = tokio::join!(within("client", client), accept(&listener));
    assert_eq!(conn.protocol, Protocol::Ws);
    ws_exchange(client, conn).await;
}

#[tokio::test]
async fn wss_round_trip() {
    let dir = TempDir::created("wss");
    let (tls, cert) = server_tls(&dir, &rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256));
    let (listener, addr) = listen(Protocol::Wss, Some(tls), 1_000_000).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let connector = tls_connector(cert.clone(), version);
        let client = async {
            let tls = tls_connect(&connector, addr).await;
            tokio_tungstenite::client_async("wss://localhost/electrum", tls)
                .await
                .expect("client handshake")
                .0
        };
        let (client, conn) = tokio::join!(within("client", client), accept(&listener));
        assert_eq!(conn.protocol, Protocol::Wss);
        ws_exchange(client, conn).await;
    }
}

#[tokio::test]
async fn ws_server_close_and_oversized_message() {
    const LIMIT: usize = 100;
    let (listener, addr) = listen(Protocol::Ws, None, LIMIT).await;
    let connect = || async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
            .await
            .expect("client handshake")
            .0
    };

    // The server closes first: a close frame without a code; the client's reply ends the
    // server's reader.
    let (mut client, conn) = tokio::join!(within("client", connect()), accept(&listener));
    let mut conn = conn;
    within("close", conn.writer.close()).await.expect("close");
    match within("client next", client.next()).await {
        Some(Ok(Message::Close(frame))) => assert!(frame.is_none(), "{frame:?}"),
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(within("client drains", client.next()).await);
    assert!(recv(&mut conn.reader).await.expect("closed").is_none());

    // A message over the limit fails the connection, with code 1009 on close.
    let (mut client, conn) = tokio::join!(within("client", connect()), accept(&listener));
    let mut conn = conn;
    client
        .send(Message::text("x".repeat(LIMIT)))
        .await
        .expect("client send");
    assert_eq!(recv_msg(&mut conn.reader).await.len(), LIMIT);
    client
        .send(Message::text("y".repeat(LIMIT + 1)))
        .await
        .expect("client send");
    assert_too_large(recv(&mut conn.reader).await, LIMIT);
    assert!(recv(&mut conn.reader).await.expect("finished").is_none());
    within("close", conn.writer.close()).await.expect("close");
    match within("client next", client.next()).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a 1009 close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn ws_port_refuses_a_plain_line_client() {
    let (listener, addr) = listen(Protocol::Ws, None, 1_000_000).await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"{\"id\":0,\"method\":\"server.version\"}\n\n")
        .await
        .expect("write");
    let incoming = within("accept", listener.accept()).await.expect("accept");
    assert!(within("handshake", incoming.handshake()).await.is_err());
}

// ---------------------------------------------------------------------------------------
// Certificate loading
// ---------------------------------------------------------------------------------------

fn load_error(cert: &Path, key: &Path) -> TlsConfigError {
    match load_tls_config(cert, key) {
        Ok(_) => panic!("{} / {} loaded", cert.display(), key.display()),
        Err(e) => e,
    }
}

#[test]
fn tls_config_errors_name_the_file_and_the_problem() {
    let dir = TempDir::created("tls-errors");
    let ec = rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
    let cert = dir.write("cert.pem", &ec.cert);
    let key = dir.write("key.pem", &ec.key);
    assert!(load_tls_config(&cert, &key).is_ok());
    // A certificate file may also hold the key, and a key file the certificate.
    let both = dir.write("both.pem", &format!("{}{}", ec.key, ec.cert));
    assert!(load_tls_config(&both, &both).is_ok());

    let check = |e: TlsConfigError, needles: &[&str]| {
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        for needle in needles {
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    };

    let missing = dir.path().join("missing.pem");
    let e = load_error(&missing, &key);
    assert!(matches!(e, TlsConfigError::Read { .. }), "{e:?}");
    check(e, &["SSL_CERTFILE", "missing.pem", "cannot read"]);
    let e = load_error(&cert, &missing);
    assert!(matches!(e, TlsConfigError::Read { .. }), "{e:?}");
    check(e, &["SSL_KEYFILE", "missing.pem"]);

    // A certificate file with no certificate (only the key).
    let e = load_error(&key, &key);
    assert!(matches!(e, TlsConfigError::NoCertificate { .. }), "{e:?}");
    check(e, &["SSL_CERTFILE", "key.pem", "no PEM certificate"]);
    let empty = dir.write("empty.pem", "");
    let e = load_error(&empty, &key);
    assert!(matches!(e, TlsConfigError::NoCertificate { .. }), "{e:?}");

    // A key file with no key (only the certificate).
    let e = load_error(&cert, &cert);
    assert!(matches!(e, TlsConfigError::NoKey { .. }), "{e:?}");
    check(e, &["SSL_KEYFILE", "cert.pem", "no PEM private key"]);

    // A key that is not the certificate's.
    let other = rcgen_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
    let other_key = dir.write("other-key.pem", &other.key);
    let e = load_error(&cert, &other_key);
    assert!(matches!(e, TlsConfigError::KeyMismatch { .. }), "{e:?}");
    check(e, &["other-key.pem", "cert.pem", "does not match"]);
    let rsa_cert = dir.write("rsa-cert.pem", RSA_CERT);
    let ec_key = dir.write("ec-key.pem", EC_SEC1_KEY);
    let e = load_error(&rsa_cert, &ec_key);
    assert!(matches!(e, TlsConfigError::KeyMismatch { .. }), "{e:?}");

    // An encrypted key.
    let encrypted = dir.write(
        "encrypted.pem",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let e = load_error(&cert, &encrypted);
    assert!(matches!(e, TlsConfigError::EncryptedKey { .. }), "{e:?}");
    check(e, &["encrypted.pem", "encrypted"]);
    let legacy = dir.write(
        "legacy-encrypted.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
         DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n\
         -----END RSA PRIVATE KEY-----\n",
    );
    let e = load_error(&cert, &legacy);
    assert!(matches!(e, TlsConfigError::EncryptedKey { .. }), "{e:?}");

    // A corrupt key and a corrupt certificate.
    let bad_key = dir.write(
        "bad-key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let e = load_error(&cert, &bad_key);
    assert!(matches!(e, TlsConfigError::UnsupportedKey { .. }), "{e:?}");
    check(e, &["SSL_KEYFILE", "bad-key.pem"]);
    let bad_cert = dir.write(
        "bad-cert.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let e = load_error(&bad_cert, &key);
    assert!(matches!(e, TlsConfigError::BadCertificate { .. }), "{e:?}");
    check(e, &["SSL_CERTFILE", "bad-cert.pem", "invalid certificate"]);
    let unterminated = dir.write("unterminated.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n");
    let e = load_error(&unterminated, &key);
    assert!(matches!(e, TlsConfigError::Pem { .. }), "{e:?}");
    check(e, &["SSL_CERTFILE", "unterminated.pem"]);
}

// ---------------------------------------------------------------------------------------
// Binding
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn ssl_and_wss_need_a_tls_config() {
    for protocol in [Protocol::Ssl, Protocol::Wss] {
        let e = Listener::bind(&service(protocol, LOCALHOST), None, 1000)
            .await
            .expect_err("bound without TLS");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[tokio::test]
async fn ipv6_loopback() {
    let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let listener = match Listener::bind(&service(Protocol::Tcp, ip), None, 1000).await {
        Ok(listener) => listener,
        Err(e) => {
            println!("skipping: cannot bind [::1]: {e}");
            return;
        }
    };
    let addrs = listener.local_addrs();
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs[0].ip(), ip);
    let (client, conn) = tokio::join!(TcpStream::connect(addrs[0]), accept(&listener));
    let mut client = client.expect("connect");
    let mut conn = conn;
    assert_eq!(conn.peer.ip(), ip);
    client.write_all(b"six\n").await.expect("write");
    assert_eq!(recv_msg(&mut conn.reader).await, b"six");
}

#[tokio::test]
async fn names_and_all_interfaces_bind_every_address() {
    // localhost: every address it resolves to, all loopback.
    let localhost = Service::new(Protocol::Tcp, ServiceHost::Name("localhost".into()), 0);
    let listener = Listener::bind(&localhost, None, 1000).await.expect("bind");
    let addrs = listener.local_addrs();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    let v4 = addrs.iter().find(|a| a.is_ipv4()).copied();
    if let Some(v4) = v4 {
        let (client, conn) = tokio::join!(TcpStream::connect(v4), accept(&listener));
        let mut client = client.expect("connect");
        let mut conn = conn;
        client.write_all(b"named\n").await.expect("write");
        assert_eq!(recv_msg(&mut conn.reader).await, b"named");
    }

    // All interfaces: 0.0.0.0 and, where IPv6 exists, ::, each IPv6-only.
    let all = Service::new(Protocol::Tcp, ServiceHost::AllInterfaces, 0);
    let listener = Listener::bind(&all, None, 1000).await.expect("bind");
    let addrs = listener.local_addrs();
    assert!(
        addrs
            .iter()
            .any(|a| a.ip() == IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "{addrs:?}"
    );
    assert!(addrs.iter().all(|a| a.ip().is_unspecified()), "{addrs:?}");
    let v4 = addrs.iter().find(|a| a.is_ipv4()).expect("v4");
    let target = SocketAddr::new(LOCALHOST, v4.port());
    let (client, conn) = tokio::join!(TcpStream::connect(target), accept(&listener));
    let mut client = client.expect("connect");
    let mut conn = conn;
    client.write_all(b"any\n").await.expect("write");
    assert_eq!(recv_msg(&mut conn.reader).await, b"any");

    // Connections on either socket are accepted.
    if let Some(v6) = addrs.iter().find(|a| a.is_ipv6()) {
        let target = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), v6.port());
        match TcpStream::connect(target).await {
            Ok(mut client) => {
                let mut conn = accept(&listener).await;
                assert!(conn.peer.is_ipv6());
                client.write_all(b"v6\n").await.expect("write");
                assert_eq!(recv_msg(&mut conn.reader).await, b"v6");
            }
            Err(e) => println!("[::1] not reachable, IPv6 half not exercised: {e}"),
        }
    }
}

#[tokio::test]
async fn rebinding_a_port_in_time_wait_works() {
    let (listener, addr) = listen(Protocol::Tcp, None, 1000).await;
    let (client, conn) = tokio::join!(TcpStream::connect(addr), accept(&listener));
    let mut client = client.expect("connect");
    let mut conn = conn;
    // The server closes first, so its side of the connection lingers in TIME_WAIT.
    within("close", conn.writer.close()).await.expect("close");
    let mut rest = Vec::new();
    within("eof", client.read_to_end(&mut rest))
        .await
        .expect("eof");
    drop(client);
    assert!(recv(&mut conn.reader).await.expect("eof").is_none());
    drop(conn);
    drop(listener);
    let again = Service::new(Protocol::Tcp, ServiceHost::Ip(LOCALHOST), addr.port());
    let listener = Listener::bind(&again, None, 1000)
        .await
        .expect("rebind with SO_REUSEADDR");
    assert_eq!(listener.local_addrs(), vec![addr]);
}

#[tokio::test]
async fn a_port_in_use_is_an_error_naming_the_address() {
    let (_listener, addr) = listen(Protocol::Tcp, None, 1000).await;
    let busy = Service::new(Protocol::Tcp, ServiceHost::Ip(LOCALHOST), addr.port());
    let e = Listener::bind(&busy, None, 1000)
        .await
        .expect_err("bound a busy port");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// A 2048-bit RSA key in PKCS#1 form (`openssl genrsa -traditional`; test-only).
const RSA_PKCS1_KEY: &str = r"-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEApak6tNyGXcOp9tvHC/liuZ4ODVUDsA7E6oXdud542W55lEhZ
HqbJGbJfqgzthoh5FGVfX+aEGenn1fMIdWXBeUoBNpCxCMNPKQUtrk3aCrSpJEX2
+HECj9utDrNNA28PUDJK6L7gu8gHQO8QBOh0mJ3LTh8r9dArjhJYV6/q1ECBw6My
Ip5cM/vrDbgLf7D1a86v33IHlAXCpyb57G/VYm13ZwxJdGAwCCbY7BXSP51DpVxw
pV+PBf8XOc7AEbX8sHBMTfIRjmlgtEqKXR5xH+y47Q0XWtXSo/528Ia5h/NlqCgk
4ZLJKEkBXCZl5T+YaFZ5pr52noYKYpoRaPx4+wIDAQABAoIBAACd8cIbeHbZaE77
+cT8g/htlRUhk3ofxueZ2u0ZNWiXlQcgAfWX+bA78X29Z2AdE727ktBi24bvLg2E
l29J+Dp36aSPTXJUdf1a76k5Br2SkmmJF82CLMPs+QVQwhwQS77bX9SgISc+g+q3
Y1GzdzFioect3s3bzJdpasNj/5/RAEEBRCkAjahGeiHfaVoz4klFZ0665GW0IJjo
1SFEBglxbhlr+5gDYs9HNP31qsX6q8VQhO5qkWmr8CHnbojoMdw1mI9rpG3865gG
/6+G4Y7Ra0MMKrPn6L5eHVgJCqTDdR86Y0HkBnYitn34vv17TmYaOriCWgQCmLTq
sor/wxUCgYEA3Vx3mZZMtRyRB/IGq5lmznD9stqbCJhOCFa277VjEPtc5QoGd8vW
w93yKe9LjVLnmlFs4TvvNZnBDjLXkhmTOF3md9U/lId2CjHmzJrqXBvHzRGCSvZ8
Ejhhgt+wju05JB/45py7RMweasnOVZQrsSPqhgXaryItd+bjGaLoxTcCgYEAv5V2
t+zPJzPCyHcPyFw6ykVOTC07RnPPz7/MfV/EG33Jl64chK7g8CWNIzvpmboz7DFg
750xC84+oI6j6oQGlPoKR1R3Iz4BqO0GnNTKsfC1sBvYO6GB8pW3JVB+kO7OBy6N
vKpy2Gb3/96TqroJkWK7L8T4pa5vSABpLM9jzF0CgYAeYOxA9bF9QXhd4MctkZXc
SwFmJD4WheBfoJbmerwnvndXL3MHyb+ljbYIL0DtGi2Srg4FMxZ3AqzN6AhRkpTz
rV9NnsRk+9olOAf2mGQFVAKtj/OTmhQY5Aft0AkI9GFdJc4gx+2jWWfrO9rHP9hn
LQiob/E9C7G1vMf54rOTLQKBgGUBb+3YM/7/ExqNawy/U1+A2p7e2fly5YUqIa2X
59R2pOoLKY3qhT0XDyocVDRwLx+/iNPLlCgdPHd5vIHPyYiRqwmgRo+WCVn+XRYi
OhtGRQPsKjyGEfTLahuKLLBMtuKicKefVZ0x7F5CAqhoHNNBsl6lAlKXfKQBU3IE
hSEhAoGBAKthpGRQ7W0Pf53E4j0uEnu850koVQQPJ3K5C3/o0wNaxHyRQ6GlI1C0
W0YRa4eDYcni9yb1zHZ3vNA/oAoxtBizRFjjfaWtiUO3VPlMy4Fdylz4/W4c3NC5
DXI04rumyXZgap3ANaFeNoNc+D7S26oKVrvG6TPvn/p7uDAytDhO
-----END RSA PRIVATE KEY-----
";

/// The self-signed certificate of [`RSA_PKCS1_KEY`] (CN=localhost, valid until 2126).
const RSA_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIULRkhr1dRan4QWl1HFtBWwXoPMzIwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjA5MzkwNVoYDzIxMjYx
MDI5MDkzOTA1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQClqTq03IZdw6n228cL+WK5ng4NVQOwDsTqhd253njZ
bnmUSFkepskZsl+qDO2GiHkUZV9f5oQZ6efV8wh1ZcF5SgE2kLEIw08pBS2uTdoK
tKkkRfb4cQKP260Os00Dbw9QMkrovuC7yAdA7xAE6HSYnctOHyv10CuOElhXr+rU
QIHDozIinlwz++sNuAt/sPVrzq/fcgeUBcKnJvnsb9VibXdnDEl0YDAIJtjsFdI/
nUOlXHClX48F/xc5zsARtfywcExN8hGOaWC0SopdHnEf7LjtDRda1dKj/nbwhrmH
82WoKCThkskoSQFcJmXlP5hoVnmmvnaehgpimhFo/Hj7AgMBAAGjbzBtMB0GA1Ud
DgQWBBSs0B2xBOkmyUtQvP89OZS8FXsLuTAfBgNVHSMEGDAWgBSs0B2xBOkmyUtQ
vP89OZS8FXsLuTAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxvY2FsaG9z
dIcEfwAAATANBgkqhkiG9w0BAQsFAAOCAQEAfHnXTUOJmfXp5k2wsEVFAHWFPz5Q
6DWIYpmYNdFkZ+miPoUlChEUfIx+rERtBsUp+quokEP/yq37HY4/+zrVw1vBa/iD
MmUouCHQ63+K9vTFKfeY40Ao29NhqN5aArmXUlmQ1ql/QXMJEFs/FnVF7bqAmokx
aAwphM71e3rO4Mp6NR8kidVD4sNb5Ws9tdV/GFYgkfx5QuzZuk3/Ia9Uc61zfFbD
Nx7spCNt5c9jMJtc8gqejvUzlcEUHBaqMQ/KoyYIl7gFR6VwSRGaR5BpdiTWsTgr
OJHPgC/g365QlgzmQIeUFt/mqTsfm00sCDAZ2Al5nciebclILWp7c1dMZw==
-----END CERTIFICATE-----
";

/// A P-256 key in SEC1 form (`openssl ecparam -genkey -noout`; test-only).
const EC_SEC1_KEY: &str = r"-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIPIvaYEJo8JCkhpJIDP7WrUwMrc/LdjFzCr3xzaY3JeqoAoGCCqGSM49
AwEHoUQDQgAEUsJEP5LK1SnKApuX7pFcUifHnBulSlkdtVGT7sgetilKJfm61Q4J
rhGL866QzncmS515+0OmXzyqaF83aE8VDw==
-----END EC PRIVATE KEY-----
";

/// The self-signed certificate of [`EC_SEC1_KEY`].
const EC_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBlTCCATugAwIBAgIUVrxQn+M0CRHTZpawVw4Nww02AwAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjA5MzkwNVoYDzIxMjYxMDI5
MDkzOTA1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARSwkQ/ksrVKcoCm5fukVxSJ8ecG6VKWR21UZPuyB62KUol+brVDgmu
EYvzrpDOdyZLnXn7Q6ZfPKpoXzdoTxUPo2kwZzAdBgNVHQ4EFgQUEe7hZUFtE2bB
5+vFQ9rm/tQ4DmUwHwYDVR0jBBgwFoAUEe7hZUFtE2bB5+vFQ9rm/tQ4DmUwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SAAwRQIhALOaDNgWjr57L/zBNK76yCLM3qXSsQfsviqWE4SkzB5KAiA2aDQbDs02
qPYcM2O2Y9ymjAIVT2r/07ERCMe9l4sknQ==
-----END CERTIFICATE-----
";
