//! NOTIFY (RFC 5465), for the folders other than the selected one: after NOTIFY SET, changes to
//! the folders a filter names are pushed as STATUS responses (§5.1 MessageNew, MessageExpunge,
//! FlagChange), after each command and during IDLE. The selected folder keeps its usual
//! EXISTS/EXPUNGE/FETCH reports. MailboxName and SubscriptionChange are accepted, not pushed.

use confiance_mail::model::{Folder, FolderId};

use crate::proto::command::{NotifyFilter, NotifyGroup, StatusItem};
use crate::session::Session;

pub struct NotifyState {
    pub groups: Vec<NotifyGroup>,
}

fn filter_matches(filter: &NotifyFilter, folder: &Folder, subscriptions: &[String]) -> bool {
    match filter {
        NotifyFilter::Selected | NotifyFilter::SelectedDelayed => false,
        NotifyFilter::Inboxes => folder.name == "INBOX",
        NotifyFilter::Personal => true,
        NotifyFilter::Subscribed => subscriptions.contains(&folder.name),
        NotifyFilter::Mailboxes(list) => list.iter().any(|m| m.0 == folder.name.as_bytes()),
        NotifyFilter::Subtree(list) => list.iter().any(|m| {
            let root = String::from_utf8_lossy(&m.0);
            folder.name == root || folder.name.starts_with(&format!("{root}/"))
        }),
    }
}

/// STATUS items reported for a folder given the events asked (RFC 5465 §5.1, §5.2).
fn items_for(events: &[String]) -> Option<Vec<StatusItem>> {
    let has = |e: &str| events.iter().any(|x| x == e);
    if !(has("MESSAGENEW") || has("MESSAGEEXPUNGE") || has("FLAGCHANGE")) {
        return None;
    }
    let mut items = vec![StatusItem::Messages, StatusItem::UidNext, StatusItem::UidValidity];
    if has("FLAGCHANGE") {
        items.push(StatusItem::HighestModSeq);
    }
    Some(items)
}

impl Session {
    /// NOTIFY SET / NONE. With STATUS, the current state of every watched folder first.
    pub(crate) async fn notify_set(&mut self, out: &mut Vec<u8>, status: bool, groups: Option<Vec<NotifyGroup>>) {
        // Changes from before this command are not events of the new set.
        if let Some(rx) = self.changes.as_mut() {
            while rx.try_recv().is_ok() {}
        }
        self.notify = groups.map(|groups| NotifyState { groups });
        if status {
            self.push_status(out, None).await;
        }
    }

    /// Pushes STATUS for the watched folders among `changed` (all watched ones when `None`).
    async fn push_status(&mut self, out: &mut Vec<u8>, changed: Option<&[FolderId]>) {
        let Some(state) = &self.notify else { return };
        let groups = state.groups.clone();
        let account = self.account_id();
        let Ok((folders, subscriptions)) = self.svc.folders_and_subscriptions(account).await else {
            return;
        };
        let selected = self.selected.as_ref().map(|s| s.id);
        for folder in &folders {
            if Some(folder.id) == selected || changed.is_some_and(|c| !c.contains(&folder.id)) {
                continue;
            }
            let items = groups
                .iter()
                .filter(|g| filter_matches(&g.filter, folder, &subscriptions))
                .find_map(|g| items_for(&g.events));
            if let Some(items) = items {
                self.status_line(out, folder, &items).await;
            }
        }
    }

    /// Pushes STATUS for one changed folder, if watched (during IDLE).
    pub(crate) async fn push_changed(&mut self, out: &mut Vec<u8>, id: FolderId) {
        self.push_status(out, Some(&[id])).await;
    }

    /// Pushes what changed in watched folders since the last call (after a command, in IDLE).
    pub(crate) async fn notifications(&mut self, out: &mut Vec<u8>) {
        if self.notify.is_none() {
            return;
        }
        let mut changed = Vec::new();
        if let Some(rx) = self.changes.as_mut() {
            while let Ok(id) = rx.try_recv() {
                if !changed.contains(&id) {
                    changed.push(id);
                }
            }
        }
        if !changed.is_empty() {
            self.push_status(out, Some(&changed)).await;
        }
    }
}
