//! The account pages in the site's layout (`crate::site`): French first (`?lang=en` for
//! English), plain HTML forms that work without JavaScript, labels on every field, errors
//! announced to screen readers.

use super::session::Session;
use crate::i18n::Tr;
use crate::site::{Layout, Section};

/// The layout of an account page titled by the catalogue's `title`, for this session (the
/// account link once logged in).
pub fn of(session: &Session, title: &str) -> Layout {
    let lang = session.lang();
    Layout::new(lang, Tr(lang).text_of(title), Section::Account).logged_in(session.account().is_some())
}
