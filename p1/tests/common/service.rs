//! A `notch-p1` process a test runs, killed when the test ends, however it ends.

pub struct Service(pub std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
