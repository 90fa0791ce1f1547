"""One mechanism for parameter rules: scikit-learn's constraints.

Each rule is written once, as a ``_parameter_constraints`` entry of an estimator
or a ``validate_params`` decorator of a function (``Interval``, ``StrOptions``,
``None`` ...; see :mod:`sklearn.utils._param_validation`). The helpers here
apply those rules where scikit-learn's own machinery does not reach: skorch
uses the name ``_validate_params`` for its own check of argument names, the
configuration of ``igmtf run`` wants every problem at once instead of the first,
and the command line wants a one-line argparse message.
"""

from __future__ import annotations

import inspect

from sklearn import get_config
from sklearn.utils._param_validation import (
    InvalidParameterError,
    make_constraint,
    validate_parameter_constraints,
)

__all__ = [
    "InvalidParameterError",
    "constraint_problem",
    "function_constraints",
    "validate_estimator_parameters",
]


def constraint_problem(constraints, value):
    """What is wrong with ``value`` under a parameter's constraints, or None if nothing.

    Parameters
    ----------
    constraints : list
        One parameter's constraints, as in a ``_parameter_constraints`` entry.
    value : object
        The value to check.

    Returns
    -------
    problem : str or None
        ``"must be <what is allowed>, got <value>"``, in scikit-learn's words.
    """
    try:
        validate_parameter_constraints({"p": constraints}, {"p": value}, caller_name="f")
    except InvalidParameterError:
        shown = [str(c) for c in map(make_constraint, constraints) if not c.hidden]
        allowed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
        return f"must be {allowed}, got {value!r}"
    return None


def function_constraints(function):
    """The constraints a ``validate_params``-decorated function checks its arguments with."""
    return function._skl_parameter_constraints


def validate_estimator_parameters(estimator):
    """Check the estimator's own parameters against its ``_parameter_constraints``.

    Called once at the start of ``fit``, before any work, as scikit-learn's
    ``_fit_context`` does; every invalid parameter is reported in one error, each
    with the value to pass to fix it. skorch's prefixed parameters
    (``module__*``, ``optimizer__*`` ...) have no constraint and are left to the
    objects they configure. Skipped under
    ``sklearn.config_context(skip_parameter_validation=True)``.

    Parameters
    ----------
    estimator : estimator with a ``_parameter_constraints`` dict

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` (and ``TypeError``) naming each invalid parameter.
    """
    if get_config()["skip_parameter_validation"]:
        return
    name = type(estimator).__name__
    defaults = {}
    for cls in reversed(type(estimator).__mro__):  # a subclass's default wins
        if "__init__" in vars(cls):
            parameters = inspect.signature(cls.__init__).parameters.values()
            defaults.update((p.name, p.default) for p in parameters if p.default is not p.empty)
    problems = []
    for key, constraints in estimator._parameter_constraints.items():
        value = getattr(estimator, key)
        problem = constraint_problem(constraints, value)
        if problem is not None:
            fix = f" (the default is {key}={defaults[key]!r})" if key in defaults else ""
            problems.append(f"The {key!r} parameter of {name} {problem}{fix}.")
    if problems:
        raise InvalidParameterError(" ".join(problems))
