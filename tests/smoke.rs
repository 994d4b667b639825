mod common;
use common::*;
use rallypoint::{Barrier, Event};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn smoke_event_and_barrier() {
    each_runtime(|rt| async move {
        let e = Arc::new(Event::new());
        let e2 = e.clone();
        let t = rt.spawn(async move {
            e2.wait().await;
            1
        });
        let th = {
            let e = e.clone();
            rt.thread(move || e.wait_blocking())
        };
        rt.sleep(Duration::from_millis(20)).await;
        e.set();
        assert_eq!(t.await, 1);
        th.await;
        assert!(!Event::new().wait_timeout(Duration::from_millis(20)).await);
        let b = Arc::new(Barrier::new(3));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                rt.spawn(async move { b.wait().await.unwrap().index() })
            })
            .collect();
        let th = {
            let b = b.clone();
            rt.thread(move || b.wait_blocking().unwrap().index())
        };
        let mut idx = vec![th.await];
        for t in ts {
            idx.push(t.await);
        }
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2]);
    });
}
