//! APPEND and MULTIAPPEND (RFC 9051 §6.3.12, RFC 3502), with CATENATE parts (RFC 4469).

use confiance_mail::Incoming;
use confiance_mail::model::StoreError;

use super::{Session, tagged};
use crate::proto::command::*;

impl Session {
    pub(crate) async fn append(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        mailbox: &Mailbox,
        messages: Vec<AppendMessage>,
    ) {
        let folder = match self.folder(mailbox).await {
            Ok(Some(f)) => f,
            Ok(None) => return tagged(out, tag, "NO", "[TRYCREATE] No such folder."),
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        // A session that holds the folder read-write is the first told of what it appends: it
        // takes the \Recent marks itself (RFC 3501 §2.3.2), and nobody has to clear them after.
        let taken_by_appender = self
            .selected
            .as_ref()
            .is_some_and(|s| s.id == folder.id && !s.read_only);
        // Every message is built and checked first, then all are stored or none (RFC 3502).
        let mut incoming = Vec::with_capacity(messages.len());
        for m in messages {
            let data = match m.data {
                AppendData::Literal { data, .. } => data,
                AppendData::Catenate(parts) => match self.catenate(parts).await {
                    Ok(data) => data,
                    Err(crate::session::catenate::CatenateError::TooBig) => {
                        return tagged(
                            out,
                            tag,
                            "NO",
                            &format!("[TOOBIG] The message exceeds {} bytes.", self.cfg.max_message_size),
                        );
                    }
                    Err(crate::session::catenate::CatenateError::BadUrl(url)) => {
                        // RFC 4469 §6 url-resp-text: the URL as is, without "]" or line breaks.
                        let url: String = url.chars().filter(|c| !matches!(c, ']' | '\r' | '\n')).collect();
                        let text = format!("[BADURL {url}] The URL does not name a message part of this account.");
                        return tagged(out, tag, "NO", &text);
                    }
                },
            };
            if data.is_empty() {
                return tagged(out, tag, "NO", "[CANNOT] An empty message cannot be stored.");
            }
            if data.len() as u64 > self.cfg.max_message_size {
                return tagged(
                    out,
                    tag,
                    "NO",
                    &format!("[TOOBIG] The message exceeds {} bytes.", self.cfg.max_message_size),
                );
            }
            let date = match &m.date {
                Some(d) => (crate::session::fetch::timestamp(d), d.zone_minutes as i32),
                None => (chrono::Utc::now().timestamp(), 0),
            };
            let flags: Vec<String> = m
                .flags
                .iter()
                .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                .cloned()
                .collect();
            incoming.push(Incoming {
                mailbox: folder.id,
                bytes: data,
                flags,
                internal_date: date,
                taken_by_appender,
            });
        }
        let appended = match self.svc.deliver_all(incoming).await {
            Ok(Ok(a)) => a,
            Ok(Err(StoreError::QuotaExceeded { used, limit })) => {
                return tagged(
                    out,
                    tag,
                    "NO",
                    &format!("[OVERQUOTA] Mailbox full: {used} of {limit} bytes used."),
                );
            }
            Ok(Err(e)) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
            Err(e) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        };
        let uidvalidity = appended.first().map_or(folder.uidvalidity, |a| a.uidvalidity);
        let uids: Vec<u32> = appended.iter().map(|a| a.uid).collect();
        if taken_by_appender && let Some(sel) = self.selected.as_mut() {
            sel.claimed.extend(&uids);
        }
        self.refresh(out, true).await;
        if let Some(sel) = self.selected.as_mut() {
            sel.claimed.clear();
        }
        let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        tagged(
            out,
            tag,
            "OK",
            &format!("[APPENDUID {uidvalidity} {set}] APPEND completed"),
        );
    }
}
