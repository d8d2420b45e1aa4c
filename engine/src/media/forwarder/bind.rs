//! Binding a call's UDP sockets on pairs from the [`PortAllocator`], and handing the pairs back.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

use super::MediaError;
use crate::media::ports::PortAllocator;

pub(super) type SharedPorts = Arc<Mutex<PortAllocator>>;

/// The allocator, also after a panic elsewhere poisoned its lock: its state is a plain free
/// list that no half-finished operation can corrupt.
pub(super) fn lock(ports: &SharedPorts) -> MutexGuard<'_, PortAllocator> {
    ports
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A pair handed out to one leg; dropping it gives the pair back. The call task drops its
/// sockets before its leases, so a pair is never free while still bound by us.
#[derive(Debug)]
pub(super) struct PortLease {
    ports: SharedPorts,
    rtp_port: u16,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        lock(&self.ports).release(self.rtp_port);
    }
}

/// One leg's bound sockets. The sockets are declared first so that, dropped unused, they
/// close before the lease frees their ports.
pub(super) struct BoundPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub lease: PortLease,
}

/// Take pairs from the allocator until one binds on `ip`. Pairs held by another process
/// (`AddrInUse`) go back to the end of the free list and the next pair is tried; any other
/// bind error ends the attempt.
pub(super) fn bind_pair(ports: &SharedPorts, ip: IpAddr) -> Result<BoundPair, MediaError> {
    let attempts = lock(ports).free_pairs().max(1);
    for _ in 0..attempts {
        let rtp_port = lock(ports).allocate()?;
        let lease = PortLease {
            ports: Arc::clone(ports),
            rtp_port,
        };
        let rtcp_port = rtp_port.wrapping_add(1);
        match (bind(ip, rtp_port), bind(ip, rtcp_port)) {
            (Ok(rtp), Ok(rtcp)) => return Ok(BoundPair { rtp, rtcp, lease }),
            (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::AddrInUse => {
                tracing::debug!(rtp_port, "RTP port pair in use by another process, skipped");
            }
            (Err(source), _) => {
                return Err(MediaError::Bind {
                    port: rtp_port,
                    source,
                })
            }
            (_, Err(source)) => {
                return Err(MediaError::Bind {
                    port: rtcp_port,
                    source,
                })
            }
        }
    }
    Err(MediaError::NoBindablePorts { tried: attempts })
}

fn bind(ip: IpAddr, port: u16) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}
