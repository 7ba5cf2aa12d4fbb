//! The runtime end to end: tasks, timers, the semaphore and TCP streams over real loopback
//! sockets (a plain `std` listener on another thread is the peer).

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use molotov_runtime::net::TcpStream;
use molotov_runtime::sync::Semaphore;
use molotov_runtime::timer::{Timer, sleep};
use molotov_runtime::{
    Executor, MAX_RING_DEPTH, RingSetup, completion_overflows, executor_id, operations_started,
    recv_buffer_shortages, spawn_local, yield_now,
};

fn run<T: 'static>(future: impl Future<Output = T> + 'static) -> T {
    Executor::new().run(future).expect("the executor runs")
}

/// Sets a flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn spawned_tasks_give_their_outputs_to_their_handles() {
    let sum = run(async {
        let tasks: Vec<_> = (1..=10u64)
            .map(|n| {
                spawn_local(async move {
                    yield_now().await;
                    n * n
                })
            })
            .collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    });
    assert_eq!(sum, 385);
}

#[test]
fn dropping_a_handle_cancels_its_task_and_detaching_lets_it_finish() {
    let (cancelled_dropped, cancelled_ran, detached_ran) = run(async {
        let dropped = Rc::new(Cell::new(false));
        let cancelled_ran = Rc::new(Cell::new(false));
        let (flag, ran) = (DropFlag(Rc::clone(&dropped)), Rc::clone(&cancelled_ran));
        let cancelled = spawn_local(async move {
            let _flag = flag;
            sleep(Duration::from_millis(20)).await;
            ran.set(true);
        });
        let detached_ran = Rc::new(Cell::new(false));
        let ran = Rc::clone(&detached_ran);
        spawn_local(async move {
            sleep(Duration::from_millis(20)).await;
            ran.set(true);
        })
        .detach();
        yield_now().await;
        drop(cancelled);
        let dropped_at_once = dropped.get();
        // Until the detached task has run (its 20 ms), not for a fixed time: an executor
        // descheduled past both deadlines on a loaded machine wakes once for both, and a
        // main task due then too may end `run` before the detached one is polled.
        let until = Instant::now() + Duration::from_secs(10);
        while !detached_ran.get() && Instant::now() < until {
            sleep(Duration::from_millis(5)).await;
        }
        // The cancelled task's 20 ms are over too: had it lived, it would run now.
        sleep(Duration::from_millis(20)).await;
        (dropped_at_once, cancelled_ran.get(), detached_ran.get())
    });
    assert!(
        cancelled_dropped,
        "the cancelled task's future was not dropped"
    );
    assert!(!cancelled_ran, "a cancelled task went on");
    assert!(detached_ran, "a detached task did not finish");
}

#[test]
fn tasks_left_when_the_main_future_ends_are_dropped() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(Rc::clone(&dropped));
    run(async move {
        spawn_local(async move {
            let _flag = flag;
            sleep(Duration::from_secs(3600)).await;
        })
        .detach();
        yield_now().await;
    });
    assert!(dropped.get());
}

/// Reads from `stream` into `buf` until at least `len` bytes are in, whatever the size of
/// each read (into all the room left in `buf`); the bytes read. Panics if the peer closes.
async fn read_at_least(stream: &mut TcpStream, buf: &mut [u8], len: usize) -> usize {
    let mut have = 0;
    while have < len {
        let n = stream.read(&mut buf[have..]).await.unwrap();
        assert_ne!(n, 0, "the echo server closed");
        have += n;
    }
    have
}

/// Spawns one task per delay (ms) that sleeps that long and then notes its delay, and waits
/// for all of them: the delays in the order their timers fired.
async fn the_order_timers_fire_in(delays_ms: &[u64]) -> Vec<u64> {
    let order = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = delays_ms
        .iter()
        .map(|&ms| {
            let order = Rc::clone(&order);
            spawn_local(async move {
                sleep(Duration::from_millis(ms)).await;
                order.borrow_mut().push(ms);
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    order.take()
}

#[test]
fn timers_fire_in_deadline_order_and_not_before() {
    let (order, took) = run(async {
        let started = Instant::now();
        let order = the_order_timers_fire_in(&[30, 10, 20]).await;
        (order, started.elapsed())
    });
    assert_eq!(order, vec![10, 20, 30]);
    assert!(took >= Duration::from_millis(30), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_dropped_timer_never_fires_and_does_not_hold_the_executor() {
    let took = run(async {
        let started = Instant::now();
        let mut long = Timer::new(Duration::from_secs(3600));
        // Armed by a first poll, then dropped.
        std::future::poll_fn(|cx| {
            assert!(std::pin::Pin::new(&mut long).poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        drop(long);
        sleep(Duration::from_millis(5)).await;
        started.elapsed()
    });
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn the_semaphore_admits_at_most_its_permits_and_serves_everyone() {
    let (peak, served) = run(async {
        let gate = Rc::new(Semaphore::new(2));
        let inside = Rc::new(Cell::new(0usize));
        let peak = Rc::new(Cell::new(0usize));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (gate, inside, peak) = (Rc::clone(&gate), Rc::clone(&inside), Rc::clone(&peak));
                spawn_local(async move {
                    let _permit = gate.acquire().await;
                    inside.set(inside.get() + 1);
                    peak.set(peak.get().max(inside.get()));
                    sleep(Duration::from_millis(2)).await;
                    inside.set(inside.get() - 1);
                })
            })
            .collect();
        let mut served = 0;
        for task in tasks {
            task.await;
            served += 1;
        }
        assert_eq!(gate.available(), 2);
        (peak.get(), served)
    });
    assert_eq!(peak, 2);
    assert_eq!(served, 8);
}

#[test]
fn a_waiter_that_gives_up_passes_its_turn_on() {
    let got = run(async {
        let gate = Rc::new(Semaphore::new(1));
        let held = gate.acquire().await;
        // Queued first, then dropped after the permit came back.
        let quitter = {
            let gate = Rc::clone(&gate);
            spawn_local(async move {
                let _permit = gate.acquire().await;
                sleep(Duration::from_secs(3600)).await;
            })
        };
        let patient = {
            let gate = Rc::clone(&gate);
            spawn_local(async move {
                let _permit = gate.acquire().await;
                true
            })
        };
        yield_now().await;
        drop(held);
        drop(quitter);
        let timeout = sleep(Duration::from_secs(2));
        futures_lite::future::or(patient, async {
            timeout.await;
            false
        })
        .await
    });
    assert!(got, "the next waiter never got the permit");
}

/// A peer that answers every chunk it reads with the same bytes, on its own thread, until
/// the client closes.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_stream_writes_and_reads_back_over_many_exchanges() {
    let addr = echo_server();
    let exchanged = run(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        for i in 0..1000u32 {
            let message = format!("ping {i}");
            stream.write_all(message.as_bytes()).await.unwrap();
            let have = read_at_least(&mut stream, &mut buf, message.len()).await;
            assert_eq!(&buf[..have], message.as_bytes());
        }
        1000
    });
    assert_eq!(exchanged, 1000);
}

/// How a stream reads: the executor's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ReadMode {
    /// One multishot receive.
    Receive,
    /// A multishot poll and `recv(2)`.
    MultishotPoll,
    /// A one-shot poll per wait and `recv(2)`.
    OneShotPoll,
}

const READ_MODES: [ReadMode; 3] = [
    ReadMode::Receive,
    ReadMode::MultishotPoll,
    ReadMode::OneShotPoll,
];

impl ReadMode {
    fn executor(self) -> Executor {
        Executor::new()
            .multishot_recv(self == ReadMode::Receive)
            .multishot_poll(self == ReadMode::MultishotPoll)
    }
}

/// Operations a stream submits to the ring over `exchanges` echoes of a short message, read
/// as `mode` says.
fn operations_for_exchanges(mode: ReadMode, exchanges: u32) -> u64 {
    let addr = echo_server();
    mode.executor()
        .run(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = [0u8; 16];
            let before = operations_started();
            for i in 0..exchanges {
                let message = format!("{i:08}");
                stream.write_all(message.as_bytes()).await.unwrap();
                // Reads into more room than the answer needs: every read is short, and the
                // next one waits for readiness (a full read would try `recv` first, and
                // find the answer there or not, as the peer's thread was quick or not).
                let have = read_at_least(&mut stream, &mut buf, 8).await;
                assert_eq!(&buf[..have], message.as_bytes());
            }
            operations_started() - before
        })
        .expect("the executor runs")
}

#[test]
fn a_kept_alive_stream_arms_one_multishot_read_for_all_its_answers() {
    // Each answer is awaited (the echo comes after the write): one poll per wait with
    // one-shot polls, one receive or one poll for the stream's life with multishot ones.
    let one_shot = operations_for_exchanges(ReadMode::OneShotPoll, 200);
    assert!(
        one_shot >= 200,
        "one-shot polls: {one_shot} operations for 200 waits"
    );
    for mode in [ReadMode::MultishotPoll, ReadMode::Receive] {
        let multishot = operations_for_exchanges(mode, 200);
        assert!(
            multishot <= 2,
            "{mode:?}: {multishot} operations for 200 answers"
        );
    }
}

#[test]
fn a_read_served_by_a_receive_tells_when_its_bytes_were_there() {
    // Each answer is read after a wait. Through a multishot receive the read knows an
    // upper bound of when its bytes arrived (the time the executor read the completion
    // that brought them): after the write, not after the read. A read by `recv(2)` knows
    // none.
    let addr = echo_server();
    for mode in READ_MODES {
        let bounds = mode
            .executor()
            .run(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = [0u8; 16];
                // A stream's first read tries `recv(2)` before it waits (and arms the
                // receive only when that finds nothing): when the echo is already there (the
                // test descheduled a moment, on a loaded machine), `recv(2)` serves it and it
                // knows no bound, as documented. Not one of the reads checked.
                // (Read into more room than it needs: a read that fills its buffer leaves
                // the next read to try `recv(2)` first too.)
                stream.write_all(b"first").await.unwrap();
                let mut got = 0;
                while got < 5 {
                    let n = stream.read(&mut buf[got..]).await.unwrap();
                    assert_ne!(n, 0, "the echo server closed");
                    got += n;
                }
                let mut bounds = Vec::new();
                for i in 0..50u32 {
                    let message = format!("{i:08}");
                    let written = Instant::now();
                    stream.write_all(message.as_bytes()).await.unwrap();
                    let n = stream.read(&mut buf).await.unwrap();
                    let read = Instant::now();
                    assert_ne!(n, 0, "the echo server closed");
                    bounds.push((written, stream.last_read_arrived_by(), read));
                    // The rest of a split answer, if any, before the next exchange.
                    stream.read_exact(&mut buf[n..8]).await.unwrap();
                }
                bounds
            })
            .expect("the executor runs");
        for (i, (written, arrived_by, read)) in bounds.into_iter().enumerate() {
            match mode {
                ReadMode::Receive => {
                    let at = arrived_by.unwrap_or_else(|| {
                        panic!("read {i}, served by the receive, knows no bound")
                    });
                    assert!(
                        written <= at && at <= read,
                        "{mode:?}: {written:?} {at:?} {read:?}"
                    );
                }
                _ => assert_eq!(arrived_by, None, "{mode:?}"),
            }
        }
    }
}

/// 50 streams on the current executor, each sending 100 messages to the echo server at
/// `addr` and reading each back; the exchanges that came back right (5,000).
async fn fifty_echo_streams(addr: SocketAddr) -> u32 {
    let tasks: Vec<_> = (0..50u32)
        .map(|c| {
            spawn_local(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = [0u8; 32];
                for i in 0..100u32 {
                    let message = format!("{c}:{i};");
                    stream.write_all(message.as_bytes()).await.unwrap();
                    stream.read_exact(&mut buf[..message.len()]).await.unwrap();
                    assert_eq!(&buf[..message.len()], message.as_bytes());
                }
                100u32
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await;
    }
    total
}

#[test]
fn many_streams_on_one_executor_each_get_their_own_answers() {
    let addr = echo_server();
    assert_eq!(run(fifty_echo_streams(addr)), 5000);
}

/// Prefetching a woken task's state is a hint only: with it at every wake-up (threshold 0)
/// and never, fifty streams get all their answers and spawned tasks their outputs.
#[test]
fn prefetching_task_state_at_every_wake_up_changes_no_outcome() {
    for from in [0, usize::MAX] {
        let addr = echo_server();
        let (total, sum) = Executor::new()
            .prefetch_task_state_from(from)
            .run(async move {
                let total = fifty_echo_streams(addr).await;
                let tasks: Vec<_> = (0..100u64)
                    .map(|i| {
                        spawn_local(async move {
                            yield_now().await;
                            i * 2
                        })
                    })
                    .collect();
                let mut sum = 0;
                for task in tasks {
                    sum += task.await;
                }
                (total, sum)
            })
            .expect("the executor runs");
        assert_eq!((total, sum), (5000, 9900), "prefetch from {from} bytes");
    }
}

/// A completion queue of 4 entries under 50 streams whose answers come together: the kernel
/// keeps what does not fit in its overflow list (and ends a multishot receive or poll whose
/// completion did not fit), and every stream still gets every answer, in every read mode.
#[test]
fn an_overflowing_completion_queue_loses_no_answer() {
    for mode in READ_MODES {
        let addr = echo_server();
        let (total, overflows) = mode
            .executor()
            .ring_depth(2)
            .completion_queue(4)
            .run(async move {
                // Bounded: an overflow list never flushed would leave streams waiting.
                let total = futures_lite::future::or(fifty_echo_streams(addr), async {
                    sleep(Duration::from_secs(20)).await;
                    panic!("the streams were still waiting after 20 s");
                })
                .await;
                (total, completion_overflows())
            })
            .expect("the executor runs");
        assert_eq!(total, 5000, "{mode:?}");
        // The point of the test: the queue did overflow.
        assert!(overflows > 0, "{mode:?}: no overflow seen");
    }
}

/// Streams that receive more than the executor's buffers hold: 4 buffers of 16 bytes for
/// 20 streams echoing 100-byte messages. An answer spans chunks, a read takes several, and
/// the buffers run out again and again (a receive then ends, and its stream reads with
/// `recv(2)` and waits with a poll until its next read): every stream still gets every
/// answer, in order.
#[test]
fn streams_get_every_answer_when_the_receive_buffers_run_out() {
    let addr = echo_server();
    let (total, shortages) = Executor::new()
        .multishot_recv(true)
        .recv_buffers(4, 16)
        .run(async move {
            let tasks: Vec<_> = (0..20u32)
                .map(|c| {
                    spawn_local(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        stream.set_nodelay(true).unwrap();
                        let mut buf = [0u8; 100];
                        for i in 0..50u32 {
                            let message = format!("{c:03}:{i:03};{}", "x".repeat(92));
                            stream.write_all(message.as_bytes()).await.unwrap();
                            stream.read_exact(&mut buf).await.unwrap();
                            assert_eq!(&buf[..], message.as_bytes());
                        }
                        50u32
                    })
                })
                .collect();
            let all = async {
                let mut total = 0;
                for task in tasks {
                    total += task.await;
                }
                total
            };
            let total = futures_lite::future::or(all, async {
                sleep(Duration::from_secs(20)).await;
                panic!("the streams were still waiting after 20 s");
            })
            .await;
            (total, recv_buffer_shortages())
        })
        .expect("the executor runs");
    assert_eq!(total, 1000);
    // The point of the test: the buffers did run out.
    assert!(shortages > 0, "no receive ran out of buffers");
}

/// A stream dropped while it holds received bytes (one buffer half read, one queued behind
/// it) gives both buffers back: on an executor of 2 buffers of 16 bytes, another stream then
/// exchanges 50 answers of 32 bytes (both buffers each) without the buffers running out.
#[test]
fn a_dropped_stream_gives_its_receive_buffers_back() {
    let addr = echo_server();
    let (first_bytes, shortages_before, answers, shortages_after) = Executor::new()
        .multishot_recv(true)
        .recv_buffers(2, 16)
        .run(async move {
            let mut first = TcpStream::connect(addr).await.unwrap();
            first.set_nodelay(true).unwrap();
            // A read that finds nothing arms the stream's receive (were the echo already
            // there, `recv(2)` would read it).
            let mut nothing = [0u8; 1];
            assert!(
                futures_lite::future::poll_once(first.read(&mut nothing))
                    .await
                    .is_none()
            );
            // 32 bytes: both buffers, 16 each (a receive holds them until they are read).
            first.write_all(&[b'a'; 32]).await.unwrap();
            let mut five = [0u8; 5];
            first.read_exact(&mut five).await.unwrap();
            // Let the second buffer's completion come in too.
            sleep(Duration::from_millis(50)).await;
            drop(first);
            let before = recv_buffer_shortages();
            let mut second = TcpStream::connect(addr).await.unwrap();
            second.set_nodelay(true).unwrap();
            let mut answers = 0;
            let mut buf = [0u8; 64];
            for i in 0..50u32 {
                let message = format!("{i:032}");
                second.write_all(message.as_bytes()).await.unwrap();
                // Reads into more room than the answer needs: a short read, after which the
                // stream waits on its receive (a full read would try `recv(2)` first).
                let have = read_at_least(&mut second, &mut buf, 32).await;
                if &buf[..have] == message.as_bytes() {
                    answers += 1;
                }
            }
            (five, before, answers, recv_buffer_shortages())
        })
        .expect("the executor runs");
    assert_eq!(&first_bytes, b"aaaaa");
    assert_eq!(answers, 50);
    assert_eq!(
        shortages_after, shortages_before,
        "the second stream ran out of buffers: the first kept some"
    );
}

/// Waits (at most 10 s) until `stream` has something to read, bytes or the end of stream,
/// and its executor has waited once more (a receive armed on the stream has taken what
/// arrived by then; `try_read_sees_what_arrived_during_the_pass` covers the reads before).
async fn until_something_to_read(stream: &mut TcpStream) {
    let until = Instant::now() + Duration::from_secs(10);
    while stream.nothing_to_read() && Instant::now() < until {
        sleep(Duration::from_millis(2)).await;
    }
    sleep(Duration::from_millis(1)).await;
}

/// What arrived on an idle stream (after an exchange: a receive or a poll is armed) is seen,
/// not taken, by `nothing_to_read`, and read by `try_read`, in every read mode; the peer's
/// end of stream too.
#[test]
fn an_idle_stream_tells_what_arrived_without_taking_it() {
    for mode in READ_MODES {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (go, peer_go) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut hello = [0u8; 2];
            stream.read_exact(&mut hello).unwrap();
            stream.write_all(&hello).unwrap();
            peer_go.recv_timeout(Duration::from_secs(5)).unwrap();
            stream.write_all(b"stray").unwrap();
            peer_go.recv_timeout(Duration::from_secs(5)).unwrap();
        });
        let seen = mode
            .executor()
            .run(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let mut buf = [0u8; 16];
                let mut seen = Vec::new();
                stream.write_all(b"hi").await.unwrap();
                stream.read_exact(&mut buf[..2]).await.unwrap();
                seen.push(String::from_utf8_lossy(&buf[..2]).into_owned());
                seen.push(format!("clean {}", stream.nothing_to_read()));
                go.send(()).unwrap();
                // Until the peer's bytes are there (a fixed 50 ms was not always enough on a
                // loaded machine): looking does not take them, as the checks below show.
                until_something_to_read(&mut stream).await;
                seen.push(format!("clean {}", stream.nothing_to_read()));
                seen.push(format!("clean {}", stream.nothing_to_read()));
                let n = stream.try_read(&mut buf[..3]).unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                seen.push(format!("clean {}", stream.nothing_to_read()));
                let n = stream.try_read(&mut buf).unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                seen.push(format!("clean {}", stream.nothing_to_read()));
                seen.push(format!(
                    "{:?}",
                    stream.try_read(&mut buf).map_err(|e| e.kind())
                ));
                go.send(()).unwrap();
                // Until the peer's end of stream is there.
                until_something_to_read(&mut stream).await;
                seen.push(format!("clean {}", stream.nothing_to_read()));
                seen.push(format!("{:?}", stream.try_read(&mut buf)));
                seen
            })
            .expect("the executor runs");
        peer.join().unwrap();
        assert_eq!(
            seen,
            [
                "hi",
                "clean true",
                "clean false",
                "clean false",
                "str",
                "clean false",
                "ay",
                "clean true",
                "Err(WouldBlock)",
                "clean false",
                "Ok(0)",
            ],
            "{mode:?}"
        );
    }
}

/// Bytes and the end of stream that arrive on an idle stream while its task runs, with no
/// entry into the ring in between (a pass busy with other work), are seen by
/// `nothing_to_read` and read by `try_read` at once, in every read mode, with and without a
/// task-work flag on the ring. With a multishot receive they are in the socket
/// (`DEFER_TASKRUN`: the receive takes them at the next entry into the ring), or already in a
/// buffer with a completion posted that the executor has not read (a ring without
/// `DEFER_TASKRUN` runs the receive at any return to user space). Both were missed: the
/// idle probe of a kept-alive connection took a stray response, or a close, for nothing.
#[test]
fn try_read_sees_what_arrived_during_the_pass() {
    for mode in READ_MODES {
        for taskrun_flags in [true, false] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (go, peer_go) = std::sync::mpsc::channel::<()>();
            let (sent, peer_sent) = std::sync::mpsc::channel::<()>();
            let peer = std::thread::spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                let mut hello = [0u8; 2];
                stream.read_exact(&mut hello).unwrap();
                // Late enough that the stream's first read finds nothing and waits: its
                // receive (or poll) is armed then.
                std::thread::sleep(Duration::from_millis(20));
                stream.write_all(&hello).unwrap();
                peer_go.recv_timeout(Duration::from_secs(5)).unwrap();
                stream.write_all(b"stray").unwrap();
                sent.send(()).unwrap();
                peer_go.recv_timeout(Duration::from_secs(5)).unwrap();
                drop(stream);
                sent.send(()).unwrap();
            });
            let executor = mode.executor().taskrun_flags(taskrun_flags).make().unwrap();
            let setup = executor.ring_setup();
            // Blocks the executor's thread (no entry into the ring) until the peer did it,
            // and a little more: the peer's bytes are in the socket, and a ring without
            // `DEFER_TASKRUN` has run the receive's work at a return from a system call.
            let wait_for_peer = move || {
                peer_sent.recv_timeout(Duration::from_secs(5)).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            };
            let seen = executor
                .run(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let mut buf = [0u8; 16];
                    let mut seen = Vec::new();
                    stream.write_all(b"hi").await.unwrap();
                    // Into more room than the answer: a short read, the next waits on the
                    // receive (or the poll).
                    let n = stream.read(&mut buf).await.unwrap();
                    seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    // The executor has entered its ring since: the receive is armed.
                    sleep(Duration::from_millis(5)).await;
                    seen.push(format!("clean {}", stream.nothing_to_read()));
                    go.send(()).unwrap();
                    wait_for_peer();
                    seen.push(format!("clean {}", stream.nothing_to_read()));
                    let n = stream.try_read(&mut buf).unwrap_or(0);
                    seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    seen.push(format!("clean {}", stream.nothing_to_read()));
                    sleep(Duration::from_millis(5)).await;
                    go.send(()).unwrap();
                    wait_for_peer();
                    seen.push(format!("clean {}", stream.nothing_to_read()));
                    seen.push(format!(
                        "{:?}",
                        stream.try_read(&mut buf).map_err(|e| e.kind())
                    ));
                    seen
                })
                .expect("the executor runs");
            peer.join().unwrap();
            assert_eq!(
                seen,
                [
                    "hi",
                    "clean true",
                    "clean false",
                    "stray",
                    "clean true",
                    "clean false",
                    "Ok(0)"
                ],
                "{mode:?}, ring {setup:?}"
            );
        }
    }
}

#[test]
fn a_closed_peer_reads_as_end_of_stream_and_a_refused_connect_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"bye").unwrap();
    });
    let refused_addr = {
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap()
    };
    let (read, end, refused) = run(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.unwrap();
        let end = stream.read(&mut [0u8; 8]).await.unwrap();
        let refused = TcpStream::connect(refused_addr).await.unwrap_err();
        (buf, end, refused.kind())
    });
    closer.join().unwrap();
    assert_eq!(read, b"bye");
    assert_eq!(end, 0);
    assert_eq!(refused, std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn the_end_of_stream_that_comes_with_the_last_data_is_read_without_waiting() {
    // A multishot poll is edge-triggered: data and the peer's FIN that arrive while the
    // executor is busy come as one completion. The read that takes the data is short, and
    // the next one must find the end of stream rather than wait for news that never come.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, peer_go) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        peer_go.recv_timeout(Duration::from_secs(5)).unwrap();
        stream.write_all(b"last words").unwrap();
    });
    let read = run(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let got = Rc::new(RefCell::new(None));
        let reader = spawn_local({
            let got = Rc::clone(&got);
            async move {
                let mut stream = stream;
                let mut buf = Vec::new();
                let result = stream.read_to_end(&mut buf).await.map(|_| buf);
                *got.borrow_mut() = Some(result.map_err(|e| e.kind()));
            }
        });
        // The reader finds nothing and arms its poll; then the peer writes and closes while
        // this thread is kept out of the ring.
        sleep(Duration::from_millis(20)).await;
        go.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && got.borrow().is_none() {
            sleep(Duration::from_millis(5)).await;
        }
        drop(reader);
        got.take()
    });
    peer.join().unwrap();
    assert_eq!(
        read,
        Some(Ok(b"last words".to_vec())),
        "the reader did not see the end of the stream in time"
    );
}

#[test]
fn dropping_a_stream_that_waits_to_read_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (saw_end, peer_saw_end) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // The client never writes: this read ends with the connection (or the timeout).
        let mut buf = [0u8; 8];
        let _ = saw_end.send(stream.read(&mut buf).map_err(|e| e.kind()));
    });
    // The ring holds a polled socket's file until the poll ends: without the cancellation,
    // the connection would stay open as long as the executor runs.
    let seen = run(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let reader = spawn_local(async move {
            let mut stream = stream;
            let mut buf = [0u8; 8];
            let _ = stream.read(&mut buf).await;
        });
        // Let the read arm its poll, then drop the task (and the stream) while it waits.
        sleep(Duration::from_millis(20)).await;
        drop(reader);
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if let Ok(seen) = peer_saw_end.try_recv() {
                return Some(seen);
            }
            sleep(Duration::from_millis(5)).await;
        }
        None
    });
    assert_eq!(
        seen,
        Some(Ok(0)),
        "the peer did not see the end of the stream in time"
    );
}

#[test]
fn a_connect_that_gets_no_answer_times_out() {
    // A listener with a backlog of 0 that never accepts: once the queue is full, the kernel
    // drops further SYNs and a connect waits.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on the listener's own descriptor, changing its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let filled: Vec<_> = (0..4)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
        })
        .collect();
    let (result, took) = run(async move {
        let started = Instant::now();
        let result = TcpStream::connect_timeout(addr, Duration::from_millis(100)).await;
        (result.map(|_| ()).map_err(|e| e.kind()), started.elapsed())
    });
    drop(filled);
    assert_eq!(result, Err(std::io::ErrorKind::TimedOut));
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn executors_have_their_own_ids_rings_and_cpu() {
    let first = Executor::new().make().unwrap();
    assert_ne!(
        first.ring_setup(),
        RingSetup::Plain,
        "no task-work flag taken"
    );
    let first = first.run(async { executor_id() }).unwrap();
    let plain = Executor::new().taskrun_flags(false).make().unwrap();
    assert_eq!(plain.ring_setup(), RingSetup::Plain);
    let second = plain.run(async { executor_id() }).unwrap();
    assert_ne!(first, second);
    let cpu = std::thread::spawn(|| {
        Executor::new()
            .pin_to_cpu(0)
            .run(async {
                // SAFETY: sched_getcpu takes no argument.
                unsafe { libc::sched_getcpu() }
            })
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(cpu, 0);
}

#[test]
fn without_the_timeout_argument_waits_are_bounded_by_a_timeout_submission() {
    // The path of kernels before 5.11: a timed wait submits a `TIMEOUT` (count 1) first.
    let addr = echo_server();
    // On its own thread, so that a wait the timeout fails to bound fails the test instead of
    // hanging it.
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = Executor::new()
            .without_timeout_argument()
            .run(async move {
                let started = Instant::now();
                // Armed for the whole run: every wait below is a timed one.
                let sleeper = spawn_local(sleep(Duration::from_secs(3600)));
                // Nothing else in flight: waits that only the timeout can end.
                let order = the_order_timers_fire_in(&[20, 5, 10]).await;
                // Timed waits (the sleeper) that completions end.
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let mut buf = [0u8; 16];
                let mut exchanged = 0;
                for i in 0..300u32 {
                    let message = format!("t{i};");
                    stream.write_all(message.as_bytes()).await.unwrap();
                    stream.read_exact(&mut buf[..message.len()]).await.unwrap();
                    exchanged += 1;
                }
                drop(sleeper);
                (order, exchanged, started.elapsed())
            })
            .unwrap();
        let _ = done.send(outcome);
    });
    let (order, exchanged, took) = result
        .recv_timeout(Duration::from_secs(20))
        .expect("the executor hung in a timed wait");
    assert_eq!(order, vec![5, 10, 20]);
    assert_eq!(exchanged, 300);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_batching_wait_holds_a_lone_completion_but_not_a_timer() {
    // A peer that answers 10 ms after the request: the executor is parked by then, and the
    // answer is a completion that comes alone during its wait.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        if stream.read_exact(&mut buf).is_ok() {
            std::thread::sleep(Duration::from_millis(10));
            let _ = stream.write_all(&buf);
        }
    });
    let executor = Executor::new()
        .batch_wait(Duration::from_millis(60))
        .make()
        .unwrap();
    if !executor.batches_waits() {
        eprintln!("this kernel has no minimum wait (Linux 6.12): nothing to test");
        return;
    }
    let (echo, timer) = executor
        .run(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            // Let the connection settle: what is measured below is one echo.
            sleep(Duration::from_millis(5)).await;
            let started = Instant::now();
            stream.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await.unwrap();
            let echo = started.elapsed();
            let started = Instant::now();
            sleep(Duration::from_millis(10)).await;
            (echo, started.elapsed())
        })
        .unwrap();
    // The answer is the only completion: the wait holds it until the minimum wait ends.
    assert!(echo >= Duration::from_millis(50), "answer after {echo:?}");
    // A timer due before the minimum wait ends still bounds the wait.
    assert!(
        timer < Duration::from_millis(50),
        "10 ms timer after {timer:?}"
    );
}

/// The deepest ring the runtime says it builds is built, with and without the task-work
/// flags; one entry more is refused by the kernel (its completion queue would pass 65536),
/// which is why `molotov --ring-depth` stops at [`MAX_RING_DEPTH`].
#[test]
fn the_deepest_ring_is_built_and_one_more_is_refused() {
    assert_eq!(MAX_RING_DEPTH, 8192);
    for flags in [true, false] {
        let ready = Executor::new()
            .ring_depth(MAX_RING_DEPTH)
            .taskrun_flags(flags)
            .make();
        let ready = ready.unwrap_or_else(|e| panic!("flags {flags}: {e}"));
        assert_eq!(ready.run(async { 7 }).unwrap(), 7);
        let err = Executor::new()
            .ring_depth(MAX_RING_DEPTH + 1)
            .taskrun_flags(flags)
            .make()
            .err()
            .unwrap_or_else(|| panic!("flags {flags}: a ring of {} was built", MAX_RING_DEPTH + 1));
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    }
}
