//! The message format, known here once: the MIME structure with the byte ranges of every part
//! (`mime`, RFC 2045/2046, which IMAP's BODYSTRUCTURE, ENVELOPE, sections and SEARCH read),
//! RFC 2047 encoded words (`encoded`), and who a message says wrote it (`author`, RFC 5322
//! §3.6, the sender rules of submission and of the MX). The list's summary (`summary`) is
//! made from the same bytes when a message is stored.

pub mod author;
pub mod encoded;
pub mod mime;
