//! Statistics per processor and per node.
//!
//! Per-processor counters are written only by their processor (inside
//! `with_cpu`), so they are bumped with a relaxed load and store: no locked
//! instruction on the fast path, yet any thread may read them without a data
//! race. Node counters change on slow paths only and use `fetch_add`.

use core::sync::atomic::{AtomicU64, Ordering};

/// Counters owned by one processor.
#[derive(Default)]
pub(crate) struct CpuCounters {
    pub(crate) allocs: Counter,
    pub(crate) frees: Counter,
    pub(crate) remote_node_frees: Counter,
    pub(crate) remote_cpu_frees: Counter,
    pub(crate) remote_cpu_received: Counter,
    pub(crate) lists_from_node: Counter,
    pub(crate) lists_to_node: Counter,
    pub(crate) spans: Counter,
    pub(crate) spans_released: Counter,
    pub(crate) large_allocs: Counter,
    pub(crate) large_frees: Counter,
    pub(crate) failures: Counter,
}

/// A counter written by one processor only.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning processor calls this.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds `n` from any processor.
    #[inline]
    pub(crate) fn add_shared(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A snapshot of one processor's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// The processor's node.
    pub node: usize,
    /// Small blocks handed out (all flavours).
    pub allocs: u64,
    /// Small blocks freed on this processor (all flavours, local or not).
    pub frees: u64,
    /// Global blocks freed here that belong to another node (sent home).
    pub remote_node_frees: u64,
    /// Strictly-local blocks freed here that belong to another processor.
    pub remote_cpu_frees: u64,
    /// Strictly-local blocks of ours that other processors sent home.
    pub remote_cpu_received: u64,
    /// Whole lists taken from the node layer.
    pub lists_from_node: u64,
    /// Whole lists given to the node layer.
    pub lists_to_node: u64,
    /// Strictly-local spans this processor took from the page layer.
    pub spans: u64,
    /// Of those, spans given back once all their blocks were free.
    pub spans_released: u64,
    /// Large (page-layer) allocations made here.
    pub large_allocs: u64,
    /// Large blocks freed here.
    pub large_frees: u64,
    /// Requests that failed for lack of memory.
    pub failures: u64,
}

impl CpuCounters {
    pub(crate) fn snapshot(&self, node: usize) -> CpuStats {
        CpuStats {
            node,
            allocs: self.allocs.get(),
            frees: self.frees.get(),
            remote_node_frees: self.remote_node_frees.get(),
            remote_cpu_frees: self.remote_cpu_frees.get(),
            remote_cpu_received: self.remote_cpu_received.get(),
            lists_from_node: self.lists_from_node.get(),
            lists_to_node: self.lists_to_node.get(),
            spans: self.spans.get(),
            spans_released: self.spans_released.get(),
            large_allocs: self.large_allocs.get(),
            large_frees: self.large_frees.get(),
            failures: self.failures.get(),
        }
    }
}

/// Counters of one node (shared by its processors).
#[derive(Default)]
pub(crate) struct NodeCounters {
    pub(crate) spans: Counter,
    pub(crate) spans_released: Counter,
    pub(crate) lists_in: Counter,
    pub(crate) lists_out: Counter,
    pub(crate) remote_lists_in: Counter,
    pub(crate) large_pages: Counter,
    pub(crate) borrowed: Counter,
}

/// A snapshot of one node's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Spans (64 KiB) of global blocks carved from this node's pages.
    pub spans: u64,
    /// Of those, spans given back to the page source once all their blocks
    /// were free and the node held more free lists than it keeps.
    pub spans_released: u64,
    /// Lists given to this node by its own processors or sent home by others.
    pub lists_in: u64,
    /// Lists handed out to processors.
    pub lists_out: u64,
    /// Of `lists_in`, those sent home by processors of other nodes.
    pub remote_lists_in: u64,
    /// Pages of large allocations placed on this node (cumulative).
    pub large_pages: u64,
    /// Lists or spans handed to processors of other nodes because theirs
    /// had nothing left (the fallback of local-node-first).
    pub borrowed: u64,
    /// Whole free lists the node holds now.
    pub free_lists: u64,
}
