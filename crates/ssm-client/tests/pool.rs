//! `SessionPool` against ssm-sim over loopback: streams spread over
//! sessions, the pool grows only when busy and shrinks after idle, a
//! killed session takes only its own streams, basic mode gets one
//! session per parallel connection, and StartSession is never called
//! twice at once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ssm_client::{
    Error, PoolError, PoolEvent, PoolPolicy, PoolStream, SessionPool, StartSessionRequest,
};
use ssm_sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

/// Bytes echoed per round trip.
const ROUND: usize = 64 * 1024;
const WAIT: Duration = Duration::from_secs(20);

fn pool(
    sim: &Simulator,
    target: &str,
    policy: PoolPolicy,
) -> (SessionPool, UnboundedReceiver<PoolEvent<Error>>) {
    let request =
        StartSessionRequest::port_forwarding(target, Some(ssm_sim::targets::ECHO_HOST), 7, 0);
    SessionPool::from_api(sdk_api(sim), request, fast_config(), policy)
}

/// Sends one round of `seed` bytes and reads the echo.
async fn echo_round(stream: &mut PoolStream, seed: u64) -> std::io::Result<Vec<u8>> {
    let data = pattern(ROUND, seed);
    stream.write_all(&data).await?;
    let mut back = vec![0u8; ROUND];
    tokio::time::timeout(WAIT, stream.read_exact(&mut back))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok(back)
}

async fn assert_echoes(stream: &mut PoolStream, seed: u64) {
    let back = echo_round(stream, seed).await.expect("echo works");
    assert!(
        back == pattern(ROUND, seed),
        "echo on session {} differs",
        stream.session_number()
    );
}

/// Opens streams the way a growing pool places them, waiting for each
/// growth: returns five streams spread over three sessions as
/// [#1, #1, #2, #2, #3].
async fn five_streams_over_three_sessions(pool: &SessionPool) -> Vec<PoolStream> {
    sessions(pool, 1).await;
    let mut streams = vec![pool.open_stream().await.unwrap()];
    // One busy session and room to grow: the next stream still goes to
    // the busy one at once, and a second session starts.
    streams.push(pool.open_stream().await.unwrap());
    sessions(pool, 2).await;
    streams.push(pool.open_stream().await.unwrap());
    streams.push(pool.open_stream().await.unwrap());
    sessions(pool, 3).await;
    streams.push(pool.open_stream().await.unwrap());
    let numbers: Vec<u64> = streams.iter().map(PoolStream::session_number).collect();
    assert_eq!(numbers, [1, 1, 2, 2, 3], "placement");
    streams
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_spread_over_sessions_and_the_pool_grows_only_when_busy() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let (pool, _events) = pool(&sim, TARGET, policy(1, 4));
    sessions(&pool, 1).await;
    let mut first = pool.open_stream().await.unwrap();
    assert_echoes(&mut first, 1).await;
    assert_eq!(
        sim.start_stats().calls,
        1,
        "one stream on an idle session must not grow the pool"
    );
    drop(first);
    let mut streams = five_streams_over_three_sessions(&pool).await;
    let echoes = streams
        .iter_mut()
        .enumerate()
        .map(|(seed, stream)| echo_round(stream, seed as u64 + 10));
    let echoes = futures_join(echoes).await;
    for (seed, echo) in echoes.into_iter().enumerate() {
        assert!(
            echo.unwrap() == pattern(ROUND, seed as u64 + 10),
            "echo {seed}"
        );
    }
    let stats = pool.stats();
    assert_eq!(stats.sessions.len(), 3, "{stats:?}");
    let opened: Vec<u64> = stats.sessions.iter().map(|s| s.streams_opened).collect();
    assert_eq!(
        opened,
        [3, 2, 1],
        "streams per session (the first one's first included)"
    );
    let in_sim: Vec<u64> = sim
        .sessions()
        .iter()
        .map(|s| s.stats.streams_opened)
        .collect();
    assert_eq!(in_sim, [3, 2, 1], "streams the simulated agents saw");
    assert_eq!(sim.start_stats().max_starting, 1, "{:?}", sim.start_stats());
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_above_the_minimum_close() {
    let sim = sim(SimConfig::default()).await;
    let policy = PoolPolicy {
        idle_close: Duration::from_millis(700),
        ..policy(1, 3)
    };
    let (pool, mut events) = pool(&sim, TARGET, policy);
    sessions(&pool, 1).await;
    let first = pool.open_stream().await.unwrap();
    let second = pool.open_stream().await.unwrap();
    sessions(&pool, 2).await;
    drop((first, second));
    sessions(&pool, 1).await;
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(PoolEvent::IdleClosed { number, live, .. }) = events.recv().await {
                return (number, live);
            }
        }
    })
    .await
    .expect("an IdleClosed event");
    assert_eq!(closed.1, 1, "one session left after the idle close");
    // The minimum stays however long it is idle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = pool.stats();
    assert_eq!(
        (stats.sessions.len(), stats.idle_closed),
        (1, 1),
        "{stats:?}"
    );
    let summaries = sim.sessions();
    let over = summaries.iter().filter(|s| s.status.is_over()).count();
    assert_eq!((summaries.len(), over), (2, 1), "{summaries:?}");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_session_fails_only_its_own_streams() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let (pool, mut events) = pool(&sim, TARGET, policy(1, 4));
    let mut streams = five_streams_over_three_sessions(&pool).await;
    for (seed, stream) in streams.iter_mut().enumerate() {
        assert_echoes(stream, seed as u64).await;
    }
    let victim = streams[2].session().session_id().to_owned();
    sim.service().terminate_session(&victim);
    sessions(&pool, 2).await;
    for (seed, stream) in streams.iter_mut().enumerate() {
        let result = echo_round(stream, 100 + seed as u64).await;
        if stream.session_number() == 2 {
            assert!(
                result.is_err(),
                "a stream of the killed session still works"
            );
        } else {
            let back = result.expect("streams of the other sessions go on");
            assert!(
                back == pattern(ROUND, 100 + seed as u64),
                "echo {seed} differs"
            );
        }
    }
    let mut next = pool.open_stream().await.unwrap();
    assert_ne!(
        next.session_number(),
        2,
        "a new stream went to the dead session"
    );
    assert_echoes(&mut next, 200).await;
    let ended = std::iter::from_fn(|| events.try_recv().ok()).find_map(|event| match event {
        PoolEvent::Ended {
            number, session_id, ..
        } => Some((number, session_id)),
        _ => None,
    });
    assert_eq!(ended, Some((2, victim)));
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mode_runs_parallel_connections_on_a_session_each() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let policy = PoolPolicy {
        open_timeout: Duration::from_secs(2),
        ..policy(1, 3)
    };
    let (pool, _events) = pool(&sim, OLD_AGENT_TARGET, policy);
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(pool.open_stream().await.expect("a session for each"));
    }
    let mut numbers: Vec<u64> = streams.iter().map(PoolStream::session_number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3], "one stream per basic-mode session");
    // All three are open at once; each carries its own connection.
    let echoes = futures_join(
        streams
            .iter_mut()
            .enumerate()
            .map(|(seed, stream)| echo_round(stream, seed as u64)),
    )
    .await;
    for (seed, echo) in echoes.into_iter().enumerate() {
        assert!(echo.unwrap() == pattern(ROUND, seed as u64), "echo {seed}");
    }
    let full = pool.open_stream().await;
    assert!(
        matches!(full, Err(PoolError::NoSession { .. })),
        "a fourth connection over a full pool of three: {full:?}"
    );
    drop(streams.pop());
    let mut again = pool
        .open_stream()
        .await
        .expect("the freed session takes it");
    assert_echoes(&mut again, 9).await;
    assert_eq!(sim.start_stats().calls, 3);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_never_has_two_start_sessions_in_flight() {
    let sim = sim(SimConfig::default()).await;
    let (pool, _events) = pool(&sim, OLD_AGENT_TARGET, policy(0, 4));
    // Each connection holds its session until four are open at once, so
    // the pool has to reach four sessions; the second four wait for a
    // free one.
    let all_open = Arc::new(tokio::sync::Barrier::new(4));
    let tasks: Vec<_> = (0..8u64)
        .map(|seed| {
            let pool = pool.clone();
            let all_open = all_open.clone();
            tokio::spawn(async move {
                let mut stream = pool.open_stream().await.expect("stream");
                assert_echoes(&mut stream, seed).await;
                all_open.wait().await;
                stream.session_number()
            })
        })
        .collect();
    let mut used = Vec::new();
    for task in tasks {
        used.push(task.await.unwrap());
    }
    used.sort_unstable();
    used.dedup();
    assert_eq!(used, [1, 2, 3, 4], "eight connections over four sessions");
    let starts = sim.start_stats();
    assert_eq!((starts.calls, starts.max_starting), (4, 1), "{starts:?}");
    pool.close().await;
}

/// Runs the futures concurrently, results in order.
async fn futures_join<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, result) in pinned.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *result = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}
