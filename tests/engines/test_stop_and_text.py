from inferstack.engines.llamacpp.sampling import StopMatcher, TextStream


def feed_all(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    out.append(matcher.flush())
    return "".join(out), False


def test_stop_string_split_across_pieces_is_cut() -> None:
    text, hit = feed_all(StopMatcher(["\nQ:"]), ["Paris.", "\n", "Q", ": next"])
    assert (text, hit) == ("Paris.", True)


def test_partial_stop_prefix_is_released_when_it_does_not_complete() -> None:
    matcher = StopMatcher(["END"])
    assert matcher.feed("the E") == ("the ", False)
    assert matcher.feed("ND") == ("", True)
    matcher = StopMatcher(["END"])
    assert matcher.feed("the E") == ("the ", False)
    assert matcher.feed("gg") == ("Egg", False)


def test_earliest_of_several_stops_wins() -> None:
    text, hit = feed_all(StopMatcher(["b", "a"]), ["xxab"])
    assert (text, hit) == ("xx", True)


def test_no_stops_passes_everything() -> None:
    assert feed_all(StopMatcher([]), ["a", "b"]) == ("ab", False)


def test_text_stream_never_splits_utf8() -> None:
    stream = TextStream()
    data = "é😀".encode()
    out = [stream.feed(data[i : i + 1]) for i in range(len(data))]
    assert "".join(out) + stream.flush() == "é😀"
    assert all(part in ("", "é", "😀") for part in out)
