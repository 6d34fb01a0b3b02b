//! A [`Channel`] sends whole commands over a [`Transport`]: it picks short or extended length,
//! chains long data, fetches `61xx` response bytes with GET RESPONSE, repeats a command the
//! card answered `6Cxx` with the right Le, and counts round trips and bytes.

use thiserror::Error;

use crate::apdu::{ApduError, CLA_CHAINING, Command, Response, ins};
use crate::sw::CardError;
use crate::transport::{Capabilities, Transport};

/// The most GET RESPONSE or Le-correction round trips one [`Channel::send`] makes before it
/// gives up on a card that keeps answering `61xx`/`6Cxx` (257 GET RESPONSEs of 256 bytes
/// already exceed any response).
pub const MAX_FOLLOW_UPS: usize = 260;

/// Why [`Channel::send`] failed.
#[derive(Debug, Error)]
pub enum ChannelError<E> {
    /// The link to the card failed.
    #[error("card reader: {0}")]
    Transport(#[source] E),
    /// The card refused or failed.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The command cannot be encoded.
    #[error(transparent)]
    Apdu(#[from] ApduError),
    /// The card broke the protocol (a response under 2 bytes, endless `61xx`).
    #[error("card protocol error: {0}")]
    Protocol(String),
}

/// What a [`Channel`] has transmitted: every real round trip, including chain links, GET
/// RESPONSEs and repeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Command APDUs sent.
    pub round_trips: u64,
    /// Bytes of command APDUs.
    pub bytes_sent: u64,
    /// Bytes of response APDUs, status words included.
    pub bytes_received: u64,
}

/// Commands to one card over a [`Transport`], within the card's [`Capabilities`].
#[derive(Debug)]
pub struct Channel<T: Transport> {
    transport: T,
    caps: Capabilities,
    stats: Stats,
}

impl<T: Transport> Channel<T> {
    /// A channel over `transport` to a card with `caps`.
    pub fn new(transport: T, caps: Capabilities) -> Self {
        Self {
            transport,
            caps,
            stats: Stats::default(),
        }
    }

    /// Sends `cmd` and returns the card's final answer, whatever its status word.
    ///
    /// - Data longer than one command may carry (255 bytes short-only, else
    ///   `max_command_data`) goes as a chain: CLA with `0x10` on every link but the last.
    ///   Extended length is used only when the card has it and a link needs it.
    /// - Le above what the card may send (256 short-only, else `max_response_data`) is
    ///   lowered to it: the rest comes through `61xx` and GET RESPONSE.
    /// - `6Cxx`: the command (the last link) is sent again with Le = xx.
    /// - `61xx`: GET RESPONSE (`00 C0 00 00 xx`, CLA keeping the logical channel bits of a
    ///   first-interindustry CLA) until another status word; the data is concatenated.
    ///
    /// # Errors
    /// [`ChannelError::Card`] when a link before the last is not answered `9000` (e.g.
    /// [`CardError::ChainingNotSupported`]); [`ChannelError::Apdu`] when the command cannot
    /// be encoded; [`ChannelError::Protocol`] for a response under 2 bytes or more than
    /// [`MAX_FOLLOW_UPS`] follow-ups; [`ChannelError::Transport`].
    pub fn send(&mut self, cmd: &Command) -> Result<Response, ChannelError<T::Error>> {
        if let Some(le) = cmd.le
            && !(1..=65536).contains(&le)
        {
            return Err(ApduError::BadLe { le }.into());
        }
        let (max_nc, max_ne) = if self.caps.extended {
            (
                self.caps.max_command_data.clamp(1, 65535),
                self.caps.max_response_data.clamp(1, 65536),
            )
        } else {
            (
                self.caps.max_command_data.clamp(1, 255),
                self.caps.max_response_data.clamp(1, 256),
            )
        };
        let mut chunks = cmd.data.chunks(max_nc).peekable();
        let mut last = Command {
            data: Vec::new(),
            le: cmd.le.map(|le| le.min(max_ne)),
            ..cmd.clone()
        };
        while let Some(chunk) = chunks.next() {
            if chunks.peek().is_none() {
                last.data = chunk.to_vec();
                break;
            }
            let link = Command {
                cla: cmd.cla | CLA_CHAINING,
                data: chunk.to_vec(),
                le: None,
                ..cmd.clone()
            };
            let resp = self.round_trip(&link)?;
            if !resp.sw.is_ok() {
                return Err(ChannelError::Card(
                    resp.sw.error().unwrap_or(CardError::Other(resp.sw)),
                ));
            }
        }

        let mut data = Vec::new();
        let mut resp = self.round_trip(&last)?;
        for _ in 0..MAX_FOLLOW_UPS {
            if let Some(le) = resp.sw.exact_le() {
                last.le = Some(le);
                resp = self.round_trip(&last)?;
                continue;
            }
            data.append(&mut resp.data);
            let Some(n) = resp.sw.available() else {
                return Ok(Response { data, sw: resp.sw });
            };
            let cla = if cmd.cla & 0xE0 == 0 {
                cmd.cla & 0x03
            } else {
                0
            };
            last = Command::new(cla, ins::GET_RESPONSE, 0, 0).with_le(n);
            resp = self.round_trip(&last)?;
        }
        Err(ChannelError::Protocol(format!(
            "the card still answers {} after {MAX_FOLLOW_UPS} GET RESPONSE or Le corrections",
            resp.sw
        )))
    }

    /// Sends `cmd` and returns the response data when the status word means success
    /// (`9000`, or `6282` at the end of a file: see [`crate::StatusWord::error`]).
    ///
    /// # Errors
    /// [`ChannelError::Card`] for any other status word, and those of [`Channel::send`].
    pub fn transmit_checked(&mut self, cmd: &Command) -> Result<Vec<u8>, ChannelError<T::Error>> {
        Ok(self.send(cmd)?.into_data()?)
    }

    /// One real round trip of one APDU, counted.
    fn round_trip(&mut self, cmd: &Command) -> Result<Response, ChannelError<T::Error>> {
        let bytes = cmd.to_bytes(cmd.needs_extended())?;
        self.stats.round_trips += 1;
        self.stats.bytes_sent += bytes.len() as u64;
        let answer = self
            .transport
            .transmit(&bytes)
            .map_err(ChannelError::Transport)?;
        self.stats.bytes_received += answer.len() as u64;
        Response::parse(&answer).map_err(|_| {
            ChannelError::Protocol(format!(
                "the card answered {:02X?} to {:02X?}: a response needs at least SW1-SW2",
                answer,
                &bytes[..4]
            ))
        })
    }

    /// What has been transmitted since the channel was made or [`Channel::reset_stats`].
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Sets the counters back to zero.
    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// The transport, e.g. to reset the card.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The card's capabilities the channel works within.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Changes the capabilities (e.g. after reading EF.ATR/INFO).
    pub fn set_capabilities(&mut self, caps: Capabilities) {
        self.caps = caps;
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sw::StatusWord;
    use std::collections::VecDeque;

    #[derive(Debug, thiserror::Error, PartialEq)]
    #[error("fake reader: {0}")]
    struct FakeError(String);

    /// A card that expects exactly these commands and gives these answers.
    #[derive(Default)]
    struct Script {
        steps: VecDeque<(Vec<u8>, Vec<u8>)>,
        sent: Vec<Vec<u8>>,
    }

    impl Script {
        fn new(steps: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
            Self {
                steps: steps.into(),
                sent: Vec::new(),
            }
        }
        fn done(&self) -> bool {
            self.steps.is_empty()
        }
    }

    impl Transport for Script {
        type Error = FakeError;
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, FakeError> {
            self.sent.push(apdu.to_vec());
            let (want, answer) = self
                .steps
                .pop_front()
                .ok_or_else(|| FakeError(format!("unexpected {apdu:02X?}")))?;
            if want != apdu {
                return Err(FakeError(format!("expected {want:02X?}, got {apdu:02X?}")));
            }
            Ok(answer)
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    fn with(head: &str, data: &[u8], tail: &str) -> Vec<u8> {
        [hex(head), data.to_vec(), hex(tail)].concat()
    }

    #[test]
    fn sends_a_short_command_as_is() {
        let mut ch = Channel::new(
            Script::new(vec![(
                hex("00 A4 04 0C 07 A0 00 00 02 47 10 01"),
                hex("90 00"),
            )]),
            Capabilities::SHORT,
        );
        let cmd = Command::new(0, ins::SELECT, 4, 0x0C).with_data(hex("A0 00 00 02 47 10 01"));
        assert_eq!(ch.transmit_checked(&cmd).unwrap(), Vec::<u8>::new());
        assert_eq!(
            ch.stats(),
            Stats {
                round_trips: 1,
                bytes_sent: 12,
                bytes_received: 2
            }
        );
        ch.reset_stats();
        assert_eq!(ch.stats(), Stats::default());
        assert!(ch.into_inner().done());
    }

    #[test]
    fn chains_600_bytes_on_a_short_only_card() {
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let script = Script::new(vec![
            (with("10 D6 00 00 FF", &data[..255], ""), hex("90 00")),
            (with("10 D6 00 00 FF", &data[255..510], ""), hex("90 00")),
            (with("00 D6 00 00 5A", &data[510..], ""), hex("90 00")),
        ]);
        let mut ch = Channel::new(script, Capabilities::SHORT);
        let cmd = Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(data);
        let resp = ch.send(&cmd).unwrap();
        assert_eq!(resp.sw, StatusWord::OK);
        let s = ch.stats();
        assert_eq!(s.round_trips, 3);
        assert_eq!(s.bytes_sent, 2 * (5 + 255) + 5 + 90);
        assert_eq!(s.bytes_received, 6);
        let sent = &ch.transport_mut().sent;
        assert!(Command::parse(&sent[0]).unwrap().is_chained());
        assert!(Command::parse(&sent[1]).unwrap().is_chained());
        assert!(!Command::parse(&sent[2]).unwrap().is_chained());
        assert!(ch.into_inner().done());
    }

    #[test]
    fn uses_extended_length_only_when_the_card_has_it_and_it_is_needed() {
        let data = vec![0x5A; 600];
        let mut ch = Channel::new(
            Script::new(vec![
                (with("00 D6 00 00 00 02 58", &data, ""), hex("90 00")),
                (with("00 D6 00 00 0A", &data[..10], ""), hex("90 00")),
            ]),
            Capabilities::EXTENDED,
        );
        let big = Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(data.clone());
        ch.transmit_checked(&big).unwrap();
        let small = Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(data[..10].to_vec());
        ch.transmit_checked(&small).unwrap();
        assert_eq!(ch.stats().round_trips, 2);
        assert!(ch.into_inner().done());
    }

    #[test]
    fn chains_within_an_extended_cards_limit() {
        let data = vec![0x11; 600];
        let caps = Capabilities {
            extended: true,
            max_command_data: 256,
            max_response_data: 256,
        };
        let mut ch = Channel::new(
            Script::new(vec![
                (with("10 D6 00 00 00 01 00", &data[..256], ""), hex("90 00")),
                (
                    with("10 D6 00 00 00 01 00", &data[256..512], ""),
                    hex("90 00"),
                ),
                (with("00 D6 00 00 58", &data[512..], ""), hex("90 00")),
            ]),
            caps,
        );
        ch.transmit_checked(&Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(data))
            .unwrap();
        assert_eq!(ch.capabilities(), caps);
        assert!(ch.into_inner().done());
    }

    #[test]
    fn a_card_without_chaining_fails_cleanly() {
        let data = vec![0; 300];
        let mut ch = Channel::new(
            Script::new(vec![(
                with("10 D6 00 00 FF", &data[..255], ""),
                hex("68 84"),
            )]),
            Capabilities::SHORT,
        );
        let err = ch
            .send(&Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(data))
            .unwrap_err();
        assert!(matches!(
            err,
            ChannelError::Card(CardError::ChainingNotSupported(StatusWord(0x6884)))
        ));
        assert!(err.to_string().contains("6884"));
        assert_eq!(ch.stats().round_trips, 1);
    }

    #[test]
    fn fetches_61xx_with_get_response() {
        let first: Vec<u8> = (0..4).collect();
        let second: Vec<u8> = (4..20).collect();
        let third: Vec<u8> = (20..25).collect();
        let mut ch = Channel::new(
            Script::new(vec![
                (hex("00 A4 04 00 02 3F 00 00"), with("", &first, "61 10")),
                (hex("00 C0 00 00 10"), with("", &second, "61 05")),
                (hex("00 C0 00 00 05"), with("", &third, "90 00")),
            ]),
            Capabilities::SHORT,
        );
        let cmd = Command::new(0, ins::SELECT, 4, 0)
            .with_data(vec![0x3F, 0x00])
            .with_le(256);
        let data = ch.transmit_checked(&cmd).unwrap();
        assert_eq!(data, (0..25).collect::<Vec<u8>>());
        assert_eq!(ch.stats().round_trips, 3);
        assert_eq!(ch.stats().bytes_received, 4 + 2 + 16 + 2 + 5 + 2);
    }

    #[test]
    fn get_response_keeps_the_logical_channel() {
        let mut ch = Channel::new(
            Script::new(vec![
                (hex("01 B0 00 00 00"), hex("61 02")),
                (hex("01 C0 00 00 02"), hex("AA BB 90 00")),
            ]),
            Capabilities::SHORT,
        );
        let data = ch
            .transmit_checked(&Command::new(1, ins::READ_BINARY, 0, 0).with_le(256))
            .unwrap();
        assert_eq!(data, [0xAA, 0xBB]);
    }

    #[test]
    fn repeats_6cxx_with_the_right_le() {
        let body = vec![7u8; 0x20];
        let mut ch = Channel::new(
            Script::new(vec![
                (hex("00 B0 00 00 00"), hex("6C 20")),
                (hex("00 B0 00 00 20"), with("", &body, "90 00")),
            ]),
            Capabilities::SHORT,
        );
        let data = ch
            .transmit_checked(&Command::new(0, ins::READ_BINARY, 0, 0).with_le(256))
            .unwrap();
        assert_eq!(data, body);
        assert_eq!(ch.stats().round_trips, 2);
    }

    #[test]
    fn lowers_le_to_what_the_card_can_send() {
        let mut ch = Channel::new(
            Script::new(vec![(hex("00 B0 00 00 00"), hex("01 62 82"))]),
            Capabilities::SHORT,
        );
        let resp = ch
            .send(&Command::new(0, ins::READ_BINARY, 0, 0).with_le(1000))
            .unwrap();
        assert_eq!(resp.sw, StatusWord::WARNING_EOF);
        // 6282 (end of file) is success for transmit_checked.
        let mut ch = Channel::new(
            Script::new(vec![(hex("00 B0 00 00 00 03 E8"), hex("01 62 82"))]),
            Capabilities::EXTENDED,
        );
        let data = ch
            .transmit_checked(&Command::new(0, ins::READ_BINARY, 0, 0).with_le(1000))
            .unwrap();
        assert_eq!(data, [1]);
    }

    #[test]
    fn card_errors_and_protocol_errors() {
        let mut ch = Channel::new(
            Script::new(vec![
                (hex("00 A4 00 0C 02 01 01"), hex("6A 82")),
                (hex("00 A4 00 0C 02 01 01"), hex("90")),
            ]),
            Capabilities::SHORT,
        );
        let select = Command::new(0, ins::SELECT, 0, 0x0C).with_data(vec![1, 1]);
        let resp = ch.send(&select).unwrap();
        assert_eq!(resp, Response::status(StatusWord::FILE_NOT_FOUND));
        let err = ch.send(&select).unwrap_err();
        assert!(matches!(err, ChannelError::Protocol(_)), "{err}");
        // The short answer was counted.
        assert_eq!(ch.stats().bytes_received, 3);
        // The script is used up: the transport's own error comes through.
        let err = ch.transmit_checked(&select).unwrap_err();
        assert!(matches!(err, ChannelError::Transport(FakeError(_))));
        let err = ch
            .send(&Command::new(0, ins::READ_BINARY, 0, 0).with_le(0))
            .unwrap_err();
        assert!(matches!(
            err,
            ChannelError::Apdu(ApduError::BadLe { le: 0 })
        ));
    }

    /// A card that always has one more byte.
    struct Endless;
    impl Transport for Endless {
        type Error = FakeError;
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, FakeError> {
            Ok(hex("00 61 01"))
        }
    }

    #[test]
    fn an_endless_61xx_loop_is_bounded() {
        let mut card = Endless;
        // Through &mut T and Box<dyn Transport>.
        let mut ch = Channel::new(&mut card, Capabilities::SHORT);
        let err = ch
            .send(&Command::new(0, ins::GET_DATA, 0, 0).with_le(1))
            .unwrap_err();
        assert!(matches!(err, ChannelError::Protocol(_)));
        assert_eq!(ch.stats().round_trips, 1 + MAX_FOLLOW_UPS as u64);
        let boxed: Box<dyn Transport<Error = FakeError>> = Box::new(Endless);
        let mut ch = Channel::new(boxed, Capabilities::SHORT);
        assert!(ch.send(&Command::new(0, ins::GET_DATA, 0, 0)).is_err());
    }
}
