//! When the capture itself cannot tell: only one side captured, segments lost before
//! the outcome, a capture that ends before it.

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, Unfinished};
use crate::diagnose::Verdict;
use crate::flow::Dir;
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;

/// Only the client's packets are in the capture, yet it carried on as if the server had
/// answered: the other direction was not captured (asymmetric routing, a one-way tap).
pub(super) fn one_sided(cx: &Ctx<'_>) -> Option<Verdict> {
    let t = &cx.conn.tcp;
    let f = cx.facts;
    if t.packets[1] > 0 || t.syn_ack.is_some() {
        return None;
    }
    let client_went_on = f.change_cipher_spec[0].is_some()
        || f.encrypted[0].count > 0
        || t.syn.is_none() && t.payload_bytes[0] > 0;
    if !client_went_on {
        return None;
    }
    let mut ev: Vec<Detail> = cx
        .client_hello()
        .map(|ch| cx.client_hello_detail(ch))
        .into_iter()
        .collect();
    ev.push(Detail::OneSided {
        client_packets: t.packets[0],
    });
    if let Some(at) = f.change_cipher_spec[0] {
        ev.push(Detail::ClientChangeCipherSpecUnanswered { at });
    }
    Some(Verdict::new(
        Finding::OnlyClientSide,
        ev,
        Fix::CaptureBothDirections,
    ))
}

/// A direction could not be followed before the outcome was decided.
pub(super) fn lost_before_outcome(cx: &Ctx<'_>) -> Option<Verdict> {
    cx.client_hello()?;
    // The earlier loss is the cause of what follows it.
    let (dir, lost) = [Dir::ToServer, Dir::ToClient]
        .into_iter()
        .filter_map(|d| cx.facts.lost[d.index()].as_ref().map(|l| (d, l)))
        .min_by_key(|(_, l)| l.at)?;
    // An outcome already decided before the loss stands.
    // A skipped message was followed past: a handshake completed after it stands too.
    // So does one whose lost side had sent its Finished before the hole: what is
    // missing came after its part of the handshake (a request whose segment the
    // capture dropped, noticed only when the peer's Finished acknowledges it).
    let lost_side_finished = cx.facts.finished[dir.index()].is_some_and(|f| f < lost.at);
    // So does an alert from the other side, whose own stream was whole up to it, that
    // names what it refused (a certificate, a version, a name): the capture lost what it
    // answered, not the peer. A complaint about the form of the lost bytes (decode_error,
    // unexpected_message: an end of stream the capture did not see) cannot be judged.
    let whole_up_to = |a: &crate::tls::facts::AlertFacts| {
        cx.facts.lost[a.from.index()]
            .as_ref()
            .is_none_or(|l| l.at > a.at)
            && a.description.is_some_and(|d| !d.is_about_the_bytes())
    };
    if super::alert::decisive_alert(cx)
        .is_some_and(|a| a.at < lost.at || a.from != dir && whole_up_to(a))
        || cx.handshake_completed_before(lost.at)
        || (lost.value.followed_on || lost_side_finished) && super::handshake_completed(cx.facts)
    {
        return None;
    }
    Some(Verdict::new(
        Finding::HandshakeLost,
        vec![Detail::StreamLost {
            at: lost.at,
            from: dir,
            reason: lost.value.reason.clone(),
        }],
        Fix::CaptureWithoutLoss,
    ))
}

/// The capture ends before the outcome, for the reason given.
pub(super) fn incomplete(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>, why: Unfinished) -> Verdict {
    let mut ev = vec![cx.client_hello_detail(ch)];
    ev.extend(cx.last_message());
    Verdict::new(Finding::Unfinished { why }, ev, Fix::CaptureUntilClose)
}
