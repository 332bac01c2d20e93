//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): searches the client asked to keep up to date
//! with RETURN (UPDATE). After every change to the selected folder the session re-runs them and
//! reports what joined (ADDTO) or left (REMOVEFROM) their results, until CANCELUPDATE.

use crate::proto::command::{SearchKey, SortCriterion};
use crate::session::view::seq_in;
use crate::session::{Session, untagged};

pub struct UpdateContext {
    pub tag: String,
    pub uid: bool,
    pub key: SearchKey,
    /// Sort criteria for a SORT context; `None` for SEARCH (UID order).
    pub sort: Option<Vec<SortCriterion>>,
    /// UIDs of the current results, in result order.
    pub results: Vec<u32>,
}

impl Session {
    /// UIDs matching `key`, in sort order for a SORT context, else ascending.
    pub(crate) async fn ordered_results(&self, key: &SearchKey, sort: Option<&[SortCriterion]>) -> Vec<u32> {
        match sort {
            None => self.matching(key).await.into_iter().map(|(_, uid)| uid).collect(),
            Some(criteria) => self
                .sorted(key, criteria)
                .await
                .into_iter()
                .map(|(_, uid)| uid)
                .collect(),
        }
    }

    /// Reports the messages about to be expunged from every context holding them
    /// (REMOVEFROM comes while their sequence numbers still exist).
    pub(crate) fn contexts_forget(&mut self, out: &mut Vec<u8>, expunged: &[u32]) {
        let Some(sel) = self.selected.as_mut() else { return };
        let mut lines = Vec::new();
        for ctx in &mut sel.updates {
            let gone: Vec<(usize, u32)> = ctx
                .results
                .iter()
                .enumerate()
                .filter(|(_, u)| expunged.contains(u))
                .map(|(i, u)| (i, *u))
                .collect();
            if gone.is_empty() {
                continue;
            }
            let numbers: Vec<u32> = gone
                .iter()
                .map(|(_, u)| {
                    if ctx.uid {
                        *u
                    } else {
                        seq_in(&sel.messages, *u).unwrap_or(0)
                    }
                })
                .collect();
            lines.push(update_line(ctx, "REMOVEFROM", gone[0].0 + 1, &numbers));
            ctx.results.retain(|u| !expunged.contains(u));
        }
        for l in lines {
            untagged(out, &l);
        }
    }

    /// Re-runs every context and reports the differences.
    pub(crate) async fn contexts_refresh(&mut self, out: &mut Vec<u8>) {
        let Some(sel) = self.selected.as_ref() else { return };
        if sel.updates.is_empty() {
            return;
        }
        let queries: Vec<(SearchKey, Option<Vec<SortCriterion>>)> =
            sel.updates.iter().map(|c| (c.key.clone(), c.sort.clone())).collect();
        let mut fresh = Vec::with_capacity(queries.len());
        for (key, sort) in &queries {
            fresh.push(self.ordered_results(key, sort.as_deref()).await);
        }
        let sel = self.selected.as_mut().expect("checked above");
        let mut lines = Vec::new();
        for (ctx, new) in sel.updates.iter_mut().zip(fresh) {
            let removed: Vec<(usize, u32)> = ctx
                .results
                .iter()
                .enumerate()
                .filter(|(_, u)| !new.contains(u))
                .map(|(i, u)| (i, *u))
                .collect();
            let added: Vec<(usize, u32)> = new
                .iter()
                .enumerate()
                .filter(|(_, u)| !ctx.results.contains(u))
                .map(|(i, u)| (i, *u))
                .collect();
            let number = |u: u32| {
                if ctx.uid {
                    u
                } else {
                    seq_in(&sel.messages, u).unwrap_or(0)
                }
            };
            if !removed.is_empty() {
                let numbers: Vec<u32> = removed.iter().map(|(_, u)| number(*u)).collect();
                lines.push(update_line(ctx, "REMOVEFROM", removed[0].0 + 1, &numbers));
            }
            if !added.is_empty() {
                let numbers: Vec<u32> = added.iter().map(|(_, u)| number(*u)).collect();
                lines.push(update_line(ctx, "ADDTO", added[0].0 + 1, &numbers));
            }
            ctx.results = new;
        }
        for l in lines {
            untagged(out, &l);
        }
    }

    /// CANCELUPDATE (RFC 5267 §4.3).
    pub(crate) fn contexts_cancel(&mut self, tags: &[Vec<u8>]) {
        if let Some(sel) = self.selected.as_mut() {
            sel.updates
                .retain(|c| !tags.iter().any(|t| t.as_slice() == c.tag.as_bytes()));
        }
    }
}

/// `ESEARCH (TAG "t") [UID] ADDTO (position set)` (RFC 5267 §4.4).
fn update_line(ctx: &UpdateContext, what: &str, position: usize, numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    if ctx.sort.is_none() {
        sorted.sort_unstable();
    }
    format!(
        "ESEARCH (TAG \"{}\"){} {what} ({position} {})",
        ctx.tag,
        if ctx.uid { " UID" } else { "" },
        crate::session::messages::ordered_runs(&sorted)
    )
}
