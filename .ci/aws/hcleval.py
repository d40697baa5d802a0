"""A small evaluator of the Terraform expressions the tests need to compute:
count and for_each, conditionals over var.* and local.*, string templates.

Enough of HCL for this stack's own expressions, not a Terraform: literals,
var.a.b, local.x (evaluated in turn), ! && || == != < > + - * /, `c ? a : b`
(only the branch taken is evaluated), (...), [...], "...${...}...", and
max, min, ceil, toset, length, startswith. Anything else (a resource's
attribute, each.*, a map literal, for, try, merge, ...) is Unknown when it is
reached, so `local.primary ? try(aws_x.y[0].id, null) : var.z` evaluates for
a standby and raises for a primary.
"""

import math
import re


class Unknown(Exception):
    """The expression needs something only Terraform knows."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][\w-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|[!?:()\[\]{},+\-*/%<>=.])
""", re.X)

_FUNCS = {"max": "max", "min": "min", "ceil": "_ceil", "toset": "_toset", "length": "len",
          "startswith": "_startswith", "tostring": "_str"}


def _tokens(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == '"':
            j, depth, parts, lit = i + 1, 0, [], ""
            while True:
                if j >= len(s):
                    raise SyntaxError(f"unterminated string in {s!r}")
                c = s[j]
                if c == "\\":
                    lit += s[j:j + 2]
                    j += 2
                    continue
                if c == '"':
                    break
                if s.startswith("${", j):
                    k, depth = j + 2, 1
                    while depth:
                        if s[k] == "{":
                            depth += 1
                        elif s[k] == "}":
                            depth -= 1
                        k += 1
                    parts.append(("lit", lit))
                    parts.append(("expr", s[j + 2:k - 1]))
                    lit, j = "", k
                    continue
                lit += c
                j += 1
            parts.append(("lit", lit))
            out.append(("str", parts))
            i = j + 1
            continue
        m = _TOKEN.match(s, i)
        if not m:
            raise SyntaxError(f"cannot read {s[i:]!r}")
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
        i = m.end()
    return out


def _group_end(toks, i):
    """Index after the bracket group opening at toks[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j][1] if toks[j][0] == "op" else None
        if t in pairs:
            depth += 1
        elif t in pairs.values():
            depth -= 1
            if depth == 0:
                return j + 1
    raise SyntaxError("unbalanced brackets")


def _split_top(toks, sep):
    parts, cur, depth = [], [], 0
    for t in toks:
        v = t[1] if t[0] == "op" else None
        if v in ("(", "[", "{"):
            depth += 1
        elif v in (")", "]", "}"):
            depth -= 1
        if depth == 0 and v == sep:
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    return parts


def _translate(toks):
    # The conditional binds loosest: split at the first top-level "?" and its ":".
    depth, q = 0, None
    for i, t in enumerate(toks):
        v = t[1] if t[0] == "op" else None
        if v in ("(", "[", "{"):
            depth += 1
        elif v in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and v == "?":
            q = i
            break
    if q is not None:
        depth, nested = 0, 0
        for j in range(q + 1, len(toks)):
            v = toks[j][1] if toks[j][0] == "op" else None
            if v in ("(", "[", "{"):
                depth += 1
            elif v in (")", "]", "}"):
                depth -= 1
            elif depth == 0 and v == "?":
                nested += 1
            elif depth == 0 and v == ":":
                if nested:
                    nested -= 1
                    continue
                cond, a, b = toks[:q], toks[q + 1:j], toks[j + 1:]
                return f"(({_translate(a)}) if ({_translate(cond)}) else ({_translate(b)}))"
        raise SyntaxError("a ? without its :")

    out, i = [], 0
    while i < len(toks):
        kind, v = toks[i]
        if kind == "num":
            out.append(v)
            i += 1
        elif kind == "str":
            pieces = [repr(p) if k == "lit" else f"_str({_translate(_tokens(p))})" for k, p in v]
            out.append("(" + " + ".join(pieces) + ")")
            i += 1
        elif kind == "ident":
            if v in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "None"}[v])
                i += 1
            elif v in ("var", "local") and i + 2 < len(toks) + 1 and toks[i + 1] == ("op", "."):
                name = toks[i + 2][1]
                out.append(f"V[{name!r}]" if v == "var" else f"L({name!r})")
                i += 3
                # .attr and [index] after it
                while i < len(toks) and toks[i] in (("op", "."), ("op", "[")):
                    if toks[i] == ("op", "."):
                        out.append(f"[{toks[i + 1][1]!r}]")
                        i += 2
                    else:
                        end = _group_end(toks, i)
                        out.append(f"[{_translate(toks[i + 1:end - 1])}]")
                        i = end
            elif v in _FUNCS and i + 1 < len(toks) and toks[i + 1] == ("op", "("):
                end = _group_end(toks, i + 1)
                args = [_translate(a) for a in _split_top(toks[i + 2:end - 1], ",") if a]
                out.append(f"{_FUNCS[v]}({', '.join(args)})")
                i = end
            else:
                # Something only Terraform knows: a resource, data, each, a
                # function of its own. Skip its traversal or its call.
                i += 1
                while i < len(toks) and toks[i] in (("op", "."), ("op", "["), ("op", "(")):
                    if toks[i] == ("op", "."):
                        i += 2
                    else:
                        i = _group_end(toks, i)
                out.append(f"_unknown({v!r})")
        elif kind == "op":
            if v == "(":
                end = _group_end(toks, i)
                out.append(f"({_translate(toks[i + 1:end - 1])})")
                i = end
            elif v == "[":
                end = _group_end(toks, i)
                inner = toks[i + 1:end - 1]
                if inner and inner[0] == ("ident", "for"):
                    out.append("_unknown('for')")
                else:
                    out.append("[" + ", ".join(_translate(a) for a in _split_top(inner, ",") if a) + "]")
                i = end
            elif v == "{":
                end = _group_end(toks, i)
                out.append("_unknown('{...}')")
                i = end
            elif v == "!":
                out.append(" not ")
                i += 1
            elif v == "&&":
                out.append(" and ")
                i += 1
            elif v == "||":
                out.append(" or ")
                i += 1
            elif v in ("==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%"):
                out.append(f" {v} ")
                i += 1
            else:
                raise SyntaxError(f"unexpected {v!r}")
    return "".join(out)


def _unknown(what):
    raise Unknown(what)


def _str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


class Evaluator:
    """Evaluates expressions with the given variable values and the stack's locals."""

    def __init__(self, locals_, variables):
        self.locals = locals_
        self.vars = variables
        self.env = {"V": variables, "L": self.local, "_unknown": _unknown, "_str": _str,
                    "_ceil": math.ceil, "_toset": lambda xs: list(dict.fromkeys(xs)),
                    "_startswith": lambda s, p: s.startswith(p),
                    "max": max, "min": min, "len": len}

    def local(self, name):
        if name not in self.locals:
            raise Unknown(f"local.{name}")
        return self.value(self.locals[name])

    def value(self, v):
        """A parsed value (python-hcl2's): expressions evaluated, maps and lists within."""
        if isinstance(v, dict):
            return {k.strip('"'): self.value(x) for k, x in v.items() if k != "__is_block__"}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, str):
            if v.startswith("${") and v.endswith("}"):
                return self.eval(v[2:-1])
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                return self.eval(v)
        return v

    def eval(self, source):
        try:
            py = _translate(_tokens(source))
        except (SyntaxError, IndexError) as e:
            raise Unknown(f"{source!r}: {e}")
        return eval(py, {"__builtins__": {}}, self.env)

    def size(self, body):
        """How many instances a resource or data block has (count, for_each, or 1)."""
        if "count" in body:
            return int(self.value(body["count"]))
        if "for_each" in body:
            return len(self.value(body["for_each"]))
        return 1
