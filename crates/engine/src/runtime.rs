//! webrtc-rs's tokio runtime with large UDP socket buffers.
//!
//! Why: a data channel pushing ~100 MB/s over one UDP socket overruns the kernel's default
//! 208 KiB receive buffer; drops then cost SCTP retransmissions and throughput fell to
//! ~6 MB/s here, against ~105 MB/s with 4 MiB buffers (FINDINGS.md). webrtc-rs binds its
//! sockets itself and has no setting for their buffers; its `Runtime` trait is the one place
//! that sees every socket before use, so this wraps the stock runtime and changes only
//! `wrap_udp_socket`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, setsockopt, sockopt};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// What each ICE socket asks for, in each direction.
pub const UDP_BUFFER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct BigBufferRuntime(TokioRuntime);

impl Default for BigBufferRuntime {
    fn default() -> Self {
        Self(TokioRuntime)
    }
}

/// Asks for `bytes` of receive and send buffer. The kernel caps SO_RCVBUF/SO_SNDBUF at
/// `net.core.{r,w}mem_max`; with CAP_NET_ADMIN the FORCE variants lift that cap. Whatever
/// is granted, the socket works: a smaller buffer is logged once per socket, not an error.
pub fn enlarge_buffers(socket: &impl AsFd, bytes: usize) {
    let _ = setsockopt(socket, sockopt::RcvBuf, &bytes);
    let _ = setsockopt(socket, sockopt::SndBuf, &bytes);
    // Linux reports double the requested size (bookkeeping overhead included).
    let granted = |v: nix::Result<usize>| v.map(|v| v / 2).unwrap_or(0);
    if granted(getsockopt(socket, sockopt::RcvBuf)) < bytes {
        let _ = setsockopt(socket, sockopt::RcvBufForce, &bytes);
    }
    if granted(getsockopt(socket, sockopt::SndBuf)) < bytes {
        let _ = setsockopt(socket, sockopt::SndBufForce, &bytes);
    }
    let (rcv, snd) = (
        granted(getsockopt(socket, sockopt::RcvBuf)),
        granted(getsockopt(socket, sockopt::SndBuf)),
    );
    if rcv < bytes || snd < bytes {
        tracing::debug!(
            rcv,
            snd,
            "UDP buffers below {bytes} B (raise net.core.rmem_max/wmem_max for fast transfers)"
        );
    }
}

impl Runtime for BigBufferRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.0.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.0.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        enlarge_buffers(&socket, UDP_BUFFER_BYTES);
        self.0.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.0.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.0.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.0.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.0.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.0.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.0.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.0.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (4 MiB UDP buffers)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_get_the_buffers_the_kernel_allows() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let before = getsockopt(&socket, sockopt::RcvBuf).expect("read") / 2;
        enlarge_buffers(&socket, UDP_BUFFER_BYTES);
        let after = getsockopt(&socket, sockopt::RcvBuf).expect("read") / 2;
        let max = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0);
        // At least what rmem_max allows (more with CAP_NET_ADMIN), and never smaller.
        assert!(after >= before, "{after} < {before}");
        assert!(
            after >= UDP_BUFFER_BYTES.min(max),
            "receive buffer {after} B, rmem_max {max} B"
        );
    }
}
