"""Operator limits: one place reads them from the environment and refuses bad values."""

import pytest

from limconn.settings import Limits


def test_from_env_reads_every_limit_and_keeps_defaults_for_unset_ones():
    limits = Limits.from_env({"LIMCONN_MAX_UNITS": "64", "LIMCONN_MAX_SECONDS": "2.5",
                              "LIMCONN_MAX_JOBS": " 3 ", "LIMCONN_MAX_EPOCHS": ""})
    assert (limits.max_units, limits.max_seconds, limits.max_jobs) == (64, 2.5, 3)
    assert limits.max_epochs == Limits().max_epochs
    assert limits.max_upload_bytes == 50 * 1024 * 1024


@pytest.mark.parametrize("environ, message", [
    ({"LIMCONN_MAX_UNITS": "many"}, "LIMCONN_MAX_UNITS must be a whole number. Received: "
                                    "LIMCONN_MAX_UNITS='many'"),
    ({"LIMCONN_MAX_SECONDS": "soon"}, "LIMCONN_MAX_SECONDS must be a number"),
    ({"LIMCONN_MAX_INPUTS": "1000"}, "at most 256, the painter's largest side"),
    ({"LIMCONN_MAX_JOBS": "0"}, "max_jobs must be a positive number. Received: max_jobs=0"),
    ({"LIMCONN_MAX_RUNS": "-5"}, "max_runs must be a positive number"),
])
def test_a_bad_value_in_the_environment_is_a_clear_error(environ, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Limits.from_env(environ)


def test_checks_name_the_limit_and_the_received_value():
    limits = Limits(max_units=8, max_samples=50)
    with pytest.raises(ValueError, match="at most 8 units. Received: 16 units"):
        limits.check_design(input_dim=2, units=16)
    with pytest.raises(ValueError, match="at most 50 samples. Received: 100 samples"):
        limits.check_data(samples=100, timesteps=5, features=2, outputs=1)
    limits.check_data(samples=50, timesteps=5, features=2, outputs=1)
    with pytest.raises(ValueError, match="at most 200,000 samples. Received: 1,000,000 samples"):
        Limits().check(samples=10**6)
