//! `POST /mam/messages` checks the signatures of concurrent posts in batches: under a burst of
//! posts from many channels, every correctly signed message is stored (201) and every message
//! with a bad signature or a weak channel key is refused (422) and leaves nothing in the log,
//! whichever posts shared its batch.

use mam::{Envelope, SealedMessage};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Channels posting at once; with two bad messages in every ten, most batches hold a bad one.
const CHANNELS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_each_get_their_own_signature_verdict() {
    let store = projections::testkit::test_store("mam_signatures").await;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let (addr, server) = adapters::http::serve("127.0.0.1:0".parse().unwrap(), store.clone(), shutdown).await.unwrap();
    let server = tokio::spawn(server);
    let url = format!("http://{addr}/mam/messages");

    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut posts: Vec<(Envelope, bool)> = Vec::new();
    for c in 0..CHANNELS {
        let mut channel = mam::Channel::create(&mut rng);
        let mut message = channel.publish(format!("telegram of channel {c}").as_bytes(), &mut rng);
        let good = match c % 10 {
            3 => {
                message.signature[7] ^= 0x40;
                false
            }
            8 => {
                // The identity point as the channel key, with R = identity and s = 0: it satisfies
                // the batch equation for any message, so the batch must refuse weak keys itself.
                message.channel = [0; 32];
                message.channel[0] = 1;
                message.signature = [0; 64];
                message.signature[0] = 1;
                false
            }
            _ => true,
        };
        assert_eq!(message.verify_signature().is_ok(), good);
        posts.push((to_envelope(&message), good));
    }

    let http = reqwest::Client::new();
    let answers = futures::future::join_all(posts.iter().map(|(envelope, _)| {
        let request = http.post(&url).json(envelope);
        async move { request.send().await.unwrap().status().as_u16() }
    }))
    .await;
    for ((envelope, good), status) in posts.iter().zip(&answers) {
        let expected = if *good { 201 } else { 401 };
        assert_eq!(*status, expected, "channel {}", envelope.channel);
        let stream = <domain::home::ChannelLog as domain::Aggregate>::stream_id(&envelope.channel);
        let stored = store.read_stream(&stream, 1, 10).await.unwrap();
        assert_eq!(stored.len(), usize::from(*good), "channel {}", envelope.channel);
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
}

/// The envelope of a (possibly tampered) message: its fields as in its bytes.
fn to_envelope(message: &SealedMessage) -> Envelope {
    let envelope = message.to_envelope();
    assert_eq!(envelope.open().unwrap(), *message);
    envelope
}
