from netcost.text import printable


def test_ansi_escape_is_shown_not_sent():
    assert printable("a\x1b[31mred") == "a\\x1b[31mred"


def test_c1_and_del_escaped_tab_and_newline_kept():
    assert printable("x\x7fy\x9bz\tw\nv") == "x\\x7fy\\x9bz\tw\nv"
    assert printable("a\nb", newlines=False) == "a\\nb"
