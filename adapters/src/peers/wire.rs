//! Frames over a TCP socket: the reading half decodes with the frame bound, the writing half encodes.

use peers::{Frame, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::refusal::Refusal;

const READ_CHUNK_BYTES: usize = 16 * 1024;

pub struct FrameReader {
    socket: OwnedReadHalf,
    decoder: FrameDecoder,
    chunk: Box<[u8]>,
}

impl FrameReader {
    pub fn new(socket: OwnedReadHalf, max_body_bytes: usize) -> FrameReader {
        FrameReader { socket, decoder: FrameDecoder::new(max_body_bytes), chunk: vec![0; READ_CHUNK_BYTES].into() }
    }

    /// The next frame; [`Refusal::Closed`] when the peer closed between frames.
    pub async fn next(&mut self) -> Result<Frame, Refusal> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(frame);
            }
            let read = self.socket.read(&mut self.chunk).await?;
            if read == 0 {
                return Err(Refusal::Closed);
            }
            self.decoder.push(&self.chunk[..read]);
        }
    }
}

pub async fn write_frame(socket: &mut OwnedWriteHalf, frame: &Frame) -> Result<(), Refusal> {
    socket.write_all(&frame.encode()).await?;
    Ok(())
}
