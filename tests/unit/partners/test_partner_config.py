"""The partners file: valid files load, every mistake is one clear error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from central_projector.partners.config import load, parse
from sync_core.errors import UsageError

KEY_A = "ab" * 32
KEY_B = "cd" * 32


def _one(body: str) -> str:
    return f'[[partner]]\nid = "bank"\nhmac_key_hex = "{KEY_A}"\n{body}\n'


def test_a_valid_file_with_a_relative_key_file_loads(tmp_path: Path) -> None:
    """Key files are read relative to the config file; '*' means every region or area."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "bank.key").write_text(KEY_A + "\n")
    (tmp_path / "partners.toml").write_text(
        "[[partner]]\n"
        'id = "bank-kalteng"\n'
        'hmac_key_file = "keys/bank.key"\n'
        'regions = ["62", "6401"]\n'
        'areas = ["savings", "loans"]\n'
        'types = ["LoanDisbursed", "SavingsDeposited"]\n'
        "retention_days = 7\n"
        "\n[[partner]]\n"
        'id = "kemenkop"\n'
        f'hmac_key_hex = "{KEY_B}"\n'
        'regions = ["*"]\n'
        'areas = ["*"]\n'
    )
    config = load(tmp_path / "partners.toml")
    bank, ministry = config.partners
    assert bank.key == bytes.fromhex(KEY_A) and bank.regions == ("62", "6401")
    assert bank.types == {"LoanDisbursed", "SavingsDeposited"} and bank.retention_days == 7
    assert bank.stream == "KOP_PARTNER_BANK-KALTENG" and bank.consumer == "partner-bank-kalteng"
    assert ministry.regions is None and ministry.types is None
    assert "membership" in ministry.areas and "devices" in ministry.areas
    assert KEY_A not in repr(bank)  # keys never end up in logs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[partner]\n", "not valid TOML"),
        ('title = "x"\n', "unknown key(s) title"),
        ('[partner]\nid = "x"\n', "no [[partner]] table"),
        (_one('regions = ["62"]\nareas = ["aid"]').replace('"bank"', '"Bank"'), "'id' must be"),
        (_one('regions = ["62"]\nareas = ["aid"]\nregion = ["64"]'), "unknown key(s) region"),
        (_one('areas = ["aid"]'), "'regions' must be"),
        (_one('regions = ["62.01"]\nareas = ["aid"]'), "'regions' has '62.01'"),
        (_one('regions = ["623"]\nareas = ["aid"]'), "'regions' has '623'"),
        (_one('regions = ["62"]'), "'areas' is required"),
        (_one('regions = ["62"]\nareas = ["bansos"]'), "'areas' has unknown value(s) bansos"),
        (_one('regions = ["62"]\nareas = ["aid"]\ntypes = ["Nope"]'), "'types' has unknown"),
        (
            _one('regions = ["62"]\nareas = ["aid"]\ntypes = ["LoanDisbursed"]'),
            "'types' lists LoanDisbursed, of area 'loans', which 'areas' does not allow",
        ),
        (_one('regions = ["62"]\nareas = ["aid"]\nretention_days = 0'), "'retention_days'"),
        (
            '[[partner]]\nid = "bank"\nregions = ["62"]\nareas = ["aid"]\n',
            "exactly one of 'hmac_key_file' and 'hmac_key_hex'",
        ),
        (
            _one('regions = ["62"]\nareas = ["aid"]').replace(KEY_A, "zz" * 32),
            "'hmac_key_hex' must hold hex digits",
        ),
        (
            _one('regions = ["62"]\nareas = ["aid"]').replace(KEY_A, "ab" * 16),
            "holds 16 bytes; an HMAC key needs at least 32",
        ),
        (
            _one('regions = ["62"]\nareas = ["aid"]') * 2,
            "partner id 'bank' appears twice",
        ),
        (
            _one('regions = ["62"]\nareas = ["aid"]')
            + _one('regions = ["64"]\nareas = ["aid"]').replace('"bank"', '"bulog"'),
            "partners 'bank' and 'bulog' share an HMAC key",
        ),
    ],
)
def test_mistakes_are_one_clear_error_naming_the_key(text: str, message: str) -> None:
    """Each kind of mistake in the partners file is refused with a message naming what is wrong."""
    with pytest.raises(UsageError) as err:
        parse(text, source="partners.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("partners.toml")


def test_missing_file_and_unreadable_key_file_are_clear(tmp_path: Path) -> None:
    """A config or key file that is not there is named in the error."""
    with pytest.raises(UsageError, match="does not exist"):
        load(tmp_path / "nope.toml")
    text = '[[partner]]\nid = "bank"\nhmac_key_file = "k.key"\nregions = ["62"]\nareas = ["aid"]\n'
    with pytest.raises(UsageError, match=r"'hmac_key_file' .*k\.key cannot be read"):
        parse(text, base_dir=tmp_path)
