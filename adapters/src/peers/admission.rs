//! Who may open a connection: at most so many per remote address, and none from an address that failed its
//! handshakes too often, until its cool-off ends. Checked at accept, before a byte is read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::limits::PeerLimits;
use super::refusal::Refusal;

/// Addresses remembered for their failures; beyond this the oldest forgiven first.
const MAX_REMEMBERED_ADDRESSES: usize = 4096;

#[derive(Default)]
pub struct Admission {
    connections: HashMap<IpAddr, usize>,
    failures: HashMap<IpAddr, Failures>,
}

struct Failures {
    count: u32,
    last: Instant,
}

/// Holds one connection's place for its address; dropping it frees the place.
pub struct Place {
    admission: Arc<Mutex<Admission>>,
    address: IpAddr,
}

impl Admission {
    pub fn admit(
        admission: &Arc<Mutex<Admission>>,
        address: IpAddr,
        limits: &PeerLimits,
        now: Instant,
    ) -> Result<Place, Refusal> {
        let mut state = admission.lock().expect("admission lock");
        if let Some(failures) = state.failures.get(&address) {
            if failures.count >= limits.failures_before_cool_off && now < failures.last + limits.cool_off {
                return Err(Refusal::CoolingOff);
            }
        }
        let open = state.connections.entry(address).or_default();
        if *open >= limits.max_connections_per_address {
            return Err(Refusal::Busy("connections from this address"));
        }
        *open += 1;
        Ok(Place { admission: admission.clone(), address })
    }

    /// A refused handshake from `address`; a cool-off that ended starts the count again.
    pub fn failed(&mut self, address: IpAddr, limits: &PeerLimits, now: Instant) {
        if self.failures.len() >= MAX_REMEMBERED_ADDRESSES && !self.failures.contains_key(&address) {
            self.forget_oldest();
        }
        let failures = self.failures.entry(address).or_insert(Failures { count: 0, last: now });
        if failures.count >= limits.failures_before_cool_off && now >= failures.last + limits.cool_off {
            failures.count = 0;
        }
        failures.count += 1;
        failures.last = now;
    }

    /// A handshake that succeeded clears the address's record.
    pub fn succeeded(&mut self, address: IpAddr) {
        self.failures.remove(&address);
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.failures.iter().min_by_key(|(_, f)| f.last).map(|(address, _)| *address) {
            self.failures.remove(&oldest);
        }
    }
}

impl Place {
    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = self.admission.lock().expect("admission lock");
        if let Some(open) = state.connections.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                state.connections.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> PeerLimits {
        PeerLimits {
            max_connections_per_address: 2,
            failures_before_cool_off: 3,
            cool_off: Duration::from_secs(60),
            ..PeerLimits::default()
        }
    }

    #[test]
    fn an_address_gets_so_many_places_and_a_freed_place_is_given_again() {
        let admission = Arc::new(Mutex::new(Admission::default()));
        let address: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        let first = Admission::admit(&admission, address, &limits(), now).unwrap();
        let _second = Admission::admit(&admission, address, &limits(), now).unwrap();
        assert!(matches!(Admission::admit(&admission, address, &limits(), now), Err(Refusal::Busy(_))));
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(Admission::admit(&admission, other, &limits(), now).is_ok(), "another address is not affected");
        drop(first);
        assert!(Admission::admit(&admission, address, &limits(), now).is_ok());
    }

    #[test]
    fn repeated_failures_cool_an_address_off_until_its_time_has_passed() {
        let admission = Arc::new(Mutex::new(Admission::default()));
        let address: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..3 {
            admission.lock().unwrap().failed(address, &limits(), now);
        }
        assert!(matches!(Admission::admit(&admission, address, &limits(), now), Err(Refusal::CoolingOff)));
        let later = now + Duration::from_secs(61);
        let place = Admission::admit(&admission, address, &limits(), later).expect("the cool-off ended");
        drop(place);
        admission.lock().unwrap().failed(address, &limits(), later);
        assert!(Admission::admit(&admission, address, &limits(), later).is_ok(), "the count started again");
    }

    #[test]
    fn the_failure_record_is_bounded() {
        let mut admission = Admission::default();
        let now = Instant::now();
        for i in 0..(MAX_REMEMBERED_ADDRESSES as u32 + 10) {
            admission.failed(IpAddr::from(i.to_be_bytes()), &limits(), now + Duration::from_millis(i as u64));
        }
        assert_eq!(admission.failures.len(), MAX_REMEMBERED_ADDRESSES);
    }
}
