using System.Globalization;
using System.Text;

namespace Appliance.Llm.ChatTemplates;

// Template values are plain .NET objects, with Python's meaning:
//   null                                  None
//   string, long, double, bool            str, int, float, bool
//   IReadOnlyList<object?>                list (TemplateTuple: tuple)
//   IReadOnlyDictionary<string, object?>  dict (insertion order kept by the dictionaries the engine makes)
//   Undefined, TemplateNamespace, TemplateLoop, TemplateCallable   Jinja's own objects

/// <summary>
/// Jinja's default <c>Undefined</c>: a missing variable, attribute or item. It is false, renders as an empty string,
/// iterates as empty and has length 0; using it for anything else (an attribute, an item, a call, arithmetic, an
/// ordering) fails with <see cref="Hint"/>.
/// </summary>
internal sealed class Undefined(string hint)
{
    /// <summary>Why the value is undefined, as Jinja says it: <c>'x' is undefined</c>, <c>'dict object' has no attribute 'y'</c>.</summary>
    public string Hint { get; } = hint;

    /// <summary>The error for using this value as more than an empty string.</summary>
    public TemplateValueException Fail() => new(Hint);
}

/// <summary>A Python tuple: a read-only list that writes itself with parentheses.</summary>
internal sealed class TemplateTuple(IReadOnlyList<object?> items) : IReadOnlyList<object?>
{
    /// <inheritdoc/>
    public object? this[int index] => items[index];

    /// <inheritdoc/>
    public int Count => items.Count;

    /// <inheritdoc/>
    public IEnumerator<object?> GetEnumerator() => items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>What <c>namespace(...)</c> makes: attributes that <c>{% set ns.name = value %}</c> can change from inside loops.</summary>
internal sealed class TemplateNamespace
{
    /// <summary>The attributes, in the order they were first set.</summary>
    public OrderedDictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>The <c>loop</c> variable of one iteration of a <c>{% for %}</c>.</summary>
internal sealed class TemplateLoop(IReadOnlyList<object?> items, int index0)
{
    /// <summary><c>loop.index0</c>, <c>loop.index</c>, <c>revindex</c>, <c>revindex0</c>, <c>first</c>, <c>last</c>,
    /// <c>length</c>, <c>previtem</c>, <c>nextitem</c>; false for any other name.</summary>
    public bool TryGet(string name, out object? value)
    {
        switch (name)
        {
            case "index0":
                value = (long)index0;
                return true;
            case "index":
                value = (long)index0 + 1;
                return true;
            case "revindex0":
                value = (long)(items.Count - index0 - 1);
                return true;
            case "revindex":
                value = (long)(items.Count - index0);
                return true;
            case "first":
                value = index0 == 0;
                return true;
            case "last":
                value = index0 == items.Count - 1;
                return true;
            case "length":
                value = (long)items.Count;
                return true;
            case "previtem":
                value = index0 > 0 ? items[index0 - 1] : new Undefined("there is no previous item");
                return true;
            case "nextitem":
                value = index0 < items.Count - 1 ? items[index0 + 1] : new Undefined("there is no next item");
                return true;
            default:
                value = null;
                return false;
        }
    }

    /// <summary>As Jinja writes it: <c>&lt;LoopContext 1/3&gt;</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"<LoopContext {index0 + 1}/{items.Count}>");
}

/// <summary>A function or bound method a template can call: <c>range</c>, <c>namespace</c>, <c>'a'.split</c>…</summary>
/// <param name="Name">The name errors use.</param>
/// <param name="Invoke">The call; it throws <see cref="TemplateValueException"/> for bad arguments.</param>
internal sealed record TemplateCallable(string Name, Func<TemplateArguments<object?>, object?> Invoke);

/// <summary>
/// A failure of an operation on values (a type error, an undefined value used, a bad argument), without a
/// position: the evaluator gives it the position of the expression it was evaluating.
/// </summary>
internal sealed class TemplateValueException : Exception
{
    /// <summary>A failure with its reason.</summary>
    public TemplateValueException(string message)
        : base(message)
    {
    }

    /// <summary>A failure with its reason; <paramref name="raised"/> when it is the template's own <c>raise_exception</c>.</summary>
    public TemplateValueException(string message, bool raised)
        : base(message) => Raised = raised;

    /// <summary>True when the template called <c>raise_exception</c>.</summary>
    public bool Raised { get; }
}

/// <summary>Python's semantics for template values: truth, <c>str</c>, <c>repr</c>, JSON, equality, ordering, arithmetic and access.</summary>
internal static class TemplateValues
{
    // Values nested deeper than this (a namespace holding itself) are refused when written out.
    private const int MaxNesting = 100;

    /// <summary>The type name Python gives the value, for error messages.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        string => "str",
        bool => "bool",
        long => "int",
        double => "float",
        TemplateTuple => "tuple",
        IReadOnlyList<object?> => "list",
        IReadOnlyDictionary<string, object?> => "dict",
        Undefined => "Undefined",
        TemplateNamespace => "Namespace",
        TemplateLoop => "LoopContext",
        TemplateCallable => "function",
        _ => value.GetType().Name,
    };

    /// <summary>Python's truth: None, False, 0, 0.0, empty strings, lists and dicts, and undefined values are false.</summary>
    public static bool IsTrue(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        IReadOnlyList<object?> list => list.Count > 0,
        IReadOnlyDictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>Python's <c>str</c>, which <c>{{ }}</c>, <c>~</c> and the <c>string</c> filter use; undefined is empty.</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr</c>, which lists and dicts use for their items.</summary>
    public static string Repr(object? value)
    {
        var text = new StringBuilder();
        AppendRepr(text, value, 0);
        return text.ToString();
    }

    /// <summary>A float as Python writes it: the shortest digits that read back, <c>1.0</c>, <c>1e+16</c>, <c>1e-05</c>, <c>inf</c>, <c>nan</c>.</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value))
        {
            return "nan";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "inf" : "-inf";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        // The shortest round-trip form (.NET Core 3.0+), taken apart into digits and the decimal point's place.
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var e = shortest.IndexOf('E', StringComparison.Ordinal);
        var mantissa = e < 0 ? shortest : shortest[..e];
        var exponent = e < 0 ? 0 : int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var digits = mantissa.Replace(".", "", StringComparison.Ordinal);
        var point = (dot < 0 ? mantissa.Length : dot) + exponent;
        var leading = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        point -= leading;

        string text;
        if (point is > -4 and <= 16)
        {
            text = point <= 0 ? "0." + new string('0', -point) + digits
                : point >= digits.Length ? digits + new string('0', point - digits.Length) + ".0"
                : digits[..point] + "." + digits[point..];
        }
        else
        {
            var power = point - 1;
            text = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + (power < 0 ? "e-" : "e+") + Math.Abs(power).ToString("00", CultureInfo.InvariantCulture);
        }

        return value < 0 ? "-" + text : text;
    }

    /// <summary>The characters of a string as Python counts them: code points (a surrogate pair is one).</summary>
    public static List<string> CodePoints(string text)
    {
        var points = new List<string>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var pair = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            points.Add(text.Substring(i, pair ? 2 : 1));
            i += pair ? 1 : 0;
        }

        return points;
    }

    /// <summary>Python's iteration: a list's items, a string's characters, a dict's keys; undefined is empty.</summary>
    /// <exception cref="TemplateValueException">The value is not iterable.</exception>
    public static IReadOnlyList<object?> Iterate(object? value) => value switch
    {
        IReadOnlyList<object?> list => list,
        string s => [.. CodePoints(s)],
        IReadOnlyDictionary<string, object?> dict => [.. dict.Keys],
        Undefined => [],
        _ => throw new TemplateValueException($"'{TypeName(value)}' object is not iterable"),
    };

    /// <summary>Python's <c>len</c>; undefined has length 0.</summary>
    /// <exception cref="TemplateValueException">The value has no length.</exception>
    public static long Length(object? value) => value switch
    {
        string s => CodePoints(s).Count,
        IReadOnlyList<object?> list => list.Count,
        IReadOnlyDictionary<string, object?> dict => dict.Count,
        Undefined => 0,
        _ => throw new TemplateValueException($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>Python's <c>==</c>: numbers by value (True == 1 == 1.0), strings, lists and dicts by content, undefined equals only undefined.</summary>
    public static bool AreEqual(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return left is double || right is double ? ToDouble(left) == ToDouble(right) : ToLong(left) == ToLong(right);
        }

        return (left, right) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (string a, string b) => string.Equals(a, b, StringComparison.Ordinal),
            (IReadOnlyList<object?> a, IReadOnlyList<object?> b) => a is TemplateTuple == b is TemplateTuple && a.Count == b.Count && a.Zip(b).All(p => AreEqual(p.First, p.Second)),
            (IReadOnlyDictionary<string, object?> a, IReadOnlyDictionary<string, object?> b) => a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && AreEqual(p.Value, v)),
            _ => ReferenceEquals(left, right),
        };
    }

    /// <summary>Python's ordering (<c>&lt; &gt; &lt;= &gt;=</c>): numbers, strings by code point, lists of the same kind item by item.</summary>
    /// <returns>Negative, zero or positive.</returns>
    /// <exception cref="TemplateValueException">The values cannot be ordered, or one is undefined.</exception>
    public static int Compare(object? left, object? right, string op)
    {
        FailIfUndefined(left, right);
        if (IsNumber(left) && IsNumber(right))
        {
            return left is double || right is double ? ToDouble(left).CompareTo(ToDouble(right)) : ToLong(left).CompareTo(ToLong(right));
        }

        switch (left, right)
        {
            case (string a, string b):
                return CompareCodePoints(a, b);
            case (IReadOnlyList<object?> a, IReadOnlyList<object?> b) when a is TemplateTuple == b is TemplateTuple:
                for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
                {
                    if (!AreEqual(a[i], b[i]))
                    {
                        return Compare(a[i], b[i], op);
                    }
                }

                return a.Count.CompareTo(b.Count);
            default:
                throw new TemplateValueException($"'{op}' not supported between instances of '{TypeName(left)}' and '{TypeName(right)}'");
        }
    }

    /// <summary>Python's <c>in</c>: a substring, an item equal to it, a key; nothing is in an undefined value.</summary>
    /// <exception cref="TemplateValueException">The container cannot hold items, or a non-string is looked for in a string.</exception>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string part ? s.Contains(part, StringComparison.Ordinal) : throw new TemplateValueException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        IReadOnlyList<object?> list => list.Any(x => AreEqual(x, item)),
        IReadOnlyDictionary<string, object?> dict => item switch
        {
            string key => dict.ContainsKey(key),
            IReadOnlyDictionary<string, object?> or (IReadOnlyList<object?> and not TemplateTuple) => throw new TemplateValueException($"unhashable type: '{TypeName(item)}'"),
            _ => false,
        },
        Undefined => false,
        _ => throw new TemplateValueException($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>
    /// <c>value.name</c> as Jinja resolves it: a method of the value (a dict's <c>get</c>, a string's
    /// <c>split</c>…), then a dict's key, a namespace's or loop's attribute; otherwise an undefined value.
    /// </summary>
    /// <exception cref="TemplateValueException">The value is undefined.</exception>
    public static object? GetAttribute(object? target, string name)
    {
        if (target is Undefined undefined)
        {
            throw undefined.Fail();
        }

        if (TemplateBuiltins.TryGetMethod(target, name, out var method))
        {
            return method;
        }

        return TryGetMember(target, name, out var value) ? value : new Undefined($"{Describe(target)} has no attribute '{name}'");
    }

    /// <summary><c>value[key]</c> as Jinja resolves it: an item (a list's index, negative from the end; a dict's
    /// key; a string's character), then an attribute; otherwise an undefined value.</summary>
    /// <exception cref="TemplateValueException">The value is undefined.</exception>
    public static object? GetItem(object? target, object? key)
    {
        if (target is Undefined undefined)
        {
            throw undefined.Fail();
        }

        if (key is long or bool && target is IReadOnlyList<object?> or string)
        {
            var items = target as IReadOnlyList<object?> ?? [.. CodePoints((string)target)];
            var index = ToLong(key);
            index = index < 0 ? index + items.Count : index;
            return index >= 0 && index < items.Count ? items[(int)index] : new Undefined($"{Describe(target)} has no element {Repr(key)}");
        }

        if (key is string name)
        {
            return TryGetMember(target, name, out var value) ? value
                : TemplateBuiltins.TryGetMethod(target, name, out var method) ? method
                : new Undefined($"{Describe(target)} has no attribute '{name}'");
        }

        return new Undefined($"{Describe(target)} has no element {Repr(key)}");
    }

    /// <summary>
    /// <c>value[start:stop:step]</c> with Python's rules (negative indices from the end, bounds clipped, a negative
    /// step walks backwards) on a string, list or tuple. As in Jinja, a slice does not fall back to an undefined
    /// value: anything else fails.
    /// </summary>
    /// <exception cref="TemplateValueException">The value is undefined or cannot be sliced, a bound is not an integer, or the step is 0.</exception>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        switch (target)
        {
            case Undefined undefined:
                throw undefined.Fail();
            case IReadOnlyDictionary<string, object?>:
                throw new TemplateValueException("unhashable type: 'slice'");
            case not (string or IReadOnlyList<object?>):
                throw new TemplateValueException($"'{TypeName(target)}' object is not subscriptable");
        }

        if (new[] { start, stop, step }.Any(b => b is not (null or long or bool)))
        {
            throw new TemplateValueException("slice indices must be integers or None");
        }

        var items = target as IReadOnlyList<object?> ?? [.. CodePoints((string)target)];
        var stride = step is null ? 1 : ToLong(step);
        if (stride == 0)
        {
            throw new TemplateValueException("slice step cannot be zero");
        }

        long count = items.Count;
        long Clip(object? bound, long whenNone)
        {
            if (bound is null)
            {
                return whenNone;
            }

            var at = ToLong(bound);
            at = at < 0 ? at + count : at;
            return stride > 0 ? Math.Clamp(at, 0, count) : Math.Clamp(at, -1, count - 1);
        }

        var from = Clip(start, stride > 0 ? 0 : count - 1);
        var to = Clip(stop, stride > 0 ? count : -1);
        var picked = new List<object?>();
        for (var i = from; stride > 0 ? i < to : i > to; i += stride)
        {
            picked.Add(items[(int)i]);
        }

        return target switch
        {
            string => string.Concat(picked.Cast<string>()),
            TemplateTuple => new TemplateTuple(picked),
            _ => picked.ToArray(),
        };
    }

    /// <summary>Python's binary arithmetic: <c>+ - * / // % **</c> on numbers, <c>+</c> on strings and lists, <c>*</c> repeating them.</summary>
    /// <exception cref="TemplateValueException">The operand types do not support the operator, an operand is undefined,
    /// a division by zero, an integer overflow, or a result over a million items.</exception>
    public static object? Arithmetic(string op, object? left, object? right)
    {
        FailIfUndefined(left, right);
        if (IsNumber(left) && IsNumber(right))
        {
            return left is double || right is double ? FloatArithmetic(op, ToDouble(left), ToDouble(right)) : IntegerArithmetic(op, ToLong(left), ToLong(right));
        }

        switch (op, left, right)
        {
            case ("+", string a, string b):
                return a + b;
            case ("+", IReadOnlyList<object?> a, IReadOnlyList<object?> b) when a is TemplateTuple == b is TemplateTuple:
                return a is TemplateTuple ? new TemplateTuple([.. a, .. b]) : (object)a.Concat(b).ToArray();
            case ("*", string or IReadOnlyList<object?>, long or bool):
                return Repeat(left, ToLong(right));
            case ("*", long or bool, string or IReadOnlyList<object?>):
                return Repeat(right, ToLong(left));
            case ("%", string, _):
                throw new TemplateValueException("string formatting with '%' is not supported");
            default:
                throw new TemplateValueException($"unsupported operand types for {op}: '{TypeName(left)}' and '{TypeName(right)}'");
        }
    }

    /// <summary>Unary <c>-</c> and <c>+</c> on a number (a bool counts as 0 or 1).</summary>
    /// <exception cref="TemplateValueException">The operand is not a number.</exception>
    public static object Sign(string op, object? operand)
    {
        if (operand is Undefined undefined)
        {
            throw undefined.Fail();
        }

        return operand switch
        {
            double d => op == "-" ? -d : d,
            long.MinValue when op == "-" => throw new TemplateValueException($"the result of -{operand} does not fit in a 64-bit integer"),
            long or bool => (object)(op == "-" ? -ToLong(operand) : ToLong(operand)),
            _ => throw new TemplateValueException($"bad operand type for unary {op}: '{TypeName(operand)}'"),
        };
    }

    /// <summary>
    /// <c>json.dumps(value, ensure_ascii, indent, separators, sort_keys)</c> as Python writes it: <c>", "</c> and
    /// <c>": "</c> between items and keys by default, <c>","</c> between items when indenting, non-ASCII kept unless
    /// <paramref name="ensureAscii"/>, floats as Python writes them (<c>NaN</c> and <c>Infinity</c> included).
    /// </summary>
    /// <param name="value">None, bools, numbers, strings, lists, tuples and dicts; nothing else.</param>
    /// <param name="ensureAscii">Escape every character outside printable ASCII as <c>\uXXXX</c>.</param>
    /// <param name="indent">Null for one line; otherwise the indentation per level (a newline before each item).</param>
    /// <param name="separators">The item and key separators, or null for the defaults.</param>
    /// <param name="sortKeys">Write dict keys in code-point order.</param>
    /// <exception cref="TemplateValueException">The value holds something JSON cannot write (an undefined value, a namespace, a function).</exception>
    public static string ToJson(object? value, bool ensureAscii, string? indent, (string Item, string Key)? separators, bool sortKeys)
    {
        var text = new StringBuilder();
        var (item, key) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        AppendJson(text, value, new JsonStyle(ensureAscii, indent, item, key, sortKeys), 0);
        return text.ToString();
    }

    /// <summary>True for the values Python counts as numbers: int, float and bool.</summary>
    public static bool IsNumber(object? value) => value is long or double or bool;

    /// <summary>An int or bool as a long (True is 1).</summary>
    public static long ToLong(object? value) => value is bool b ? (b ? 1 : 0) : (long)value!;

    private static double ToDouble(object? value) => value is double d ? d : ToLong(value);

    private static void FailIfUndefined(object? left, object? right)
    {
        if (left is Undefined a)
        {
            throw a.Fail();
        }

        if (right is Undefined b)
        {
            throw b.Fail();
        }
    }

    // Jinja's description of a value in "has no attribute" hints: 'dict object', 'str object', None.
    private static string Describe(object? value) => value is null ? "None" : $"'{TypeName(value)} object'";

    private static bool TryGetMember(object? target, string name, out object? value)
    {
        value = null;
        return target switch
        {
            IReadOnlyDictionary<string, object?> dict => dict.TryGetValue(name, out value),
            TemplateNamespace ns => ns.Attributes.TryGetValue(name, out value),
            TemplateLoop loop => loop.TryGet(name, out value),
            _ => false,
        };
    }

    // Arms are cast to object one by one: a switch over long and double arms would otherwise make every result a double.
    private static object IntegerArithmetic(string op, long a, long b)
    {
        try
        {
            return op switch
            {
                "+" => (object)checked(a + b),
                "-" => checked(a - b),
                "*" => checked(a * b),
                "/" => b == 0 ? throw DivisionByZero() : (double)a / b,
                "//" => b == 0 ? throw DivisionByZero() : FloorDivide(a, b),
                "%" => b == 0 ? throw DivisionByZero() : ((a % b) + b) % b,
                "**" when b < 0 => a == 0 ? throw new TemplateValueException("0.0 cannot be raised to a negative power") : Math.Pow(a, b),
                "**" => IntegerPower(a, b),
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an arithmetic operator"),
            };
        }
        catch (OverflowException)
        {
            throw new TemplateValueException($"the result of {a} {op} {b} does not fit in a 64-bit integer");
        }
    }

    private static long FloorDivide(long a, long b)
    {
        var quotient = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? quotient - 1 : quotient;
    }

    // Exponentiation by squaring; a square is only taken when a later bit needs it, so it overflows only when the result would.
    private static long IntegerPower(long value, long exponent)
    {
        var result = 1L;
        while (exponent > 0)
        {
            if ((exponent & 1) == 1)
            {
                result = checked(result * value);
            }

            exponent >>= 1;
            if (exponent > 0)
            {
                value = checked(value * value);
            }
        }

        return result;
    }

    private static double FloatArithmetic(string op, double a, double b) => op switch
    {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => b == 0 ? throw DivisionByZero() : a / b,
        "//" => b == 0 ? throw DivisionByZero() : Math.Floor(a / b),
        "%" => b == 0 ? throw DivisionByZero() : a - (b * Math.Floor(a / b)),
        "**" => a == 0 && b < 0 ? throw new TemplateValueException("0.0 cannot be raised to a negative power") : Math.Pow(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an arithmetic operator"),
    };

    private static TemplateValueException DivisionByZero() => new("division by zero");

    private static object Repeat(object? sequence, long times)
    {
        const long MaxItems = 1_000_000;
        var length = sequence is string s ? s.Length : ((IReadOnlyList<object?>)sequence!).Count;
        times = Math.Max(times, 0);
        if (times > 0 && length > MaxItems / times)
        {
            throw new TemplateValueException($"repeating {length} items {times} times makes more than {MaxItems}");
        }

        return sequence switch
        {
            string text => string.Concat(Enumerable.Repeat(text, (int)times)),
            TemplateTuple tuple => new TemplateTuple([.. Enumerable.Repeat(tuple, (int)times).SelectMany(t => t)]),
            _ => Enumerable.Repeat((IReadOnlyList<object?>)sequence!, (int)times).SelectMany(l => l).ToArray(),
        };
    }

    // Code-point order: a surrogate (part of a character above U+FFFF) sorts after every other UTF-16 unit.
    private static int CompareCodePoints(string a, string b)
    {
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            if (a[i] != b[i])
            {
                static int Key(char c) => char.IsSurrogate(c) ? c + 0x10000 : c;
                return Key(a[i]).CompareTo(Key(b[i]));
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    private static void AppendRepr(StringBuilder text, object? value, int depth)
    {
        if (depth > MaxNesting)
        {
            throw new TemplateValueException($"the value nests deeper than {MaxNesting} levels (does it hold itself?)");
        }

        switch (value)
        {
            case null:
                text.Append("None");
                break;
            case bool b:
                text.Append(b ? "True" : "False");
                break;
            case long l:
                text.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                text.Append(FormatFloat(d));
                break;
            case string s:
                AppendStringRepr(text, s);
                break;
            case Undefined:
                text.Append("Undefined");
                break;
            case IReadOnlyList<object?> list:
                var tuple = list is TemplateTuple;
                text.Append(tuple ? '(' : '[');
                for (var i = 0; i < list.Count; i++)
                {
                    text.Append(i > 0 ? ", " : "");
                    AppendRepr(text, list[i], depth + 1);
                }

                text.Append(tuple && list.Count == 1 ? ",)" : tuple ? ")" : "]");
                break;
            case IReadOnlyDictionary<string, object?> dict:
                AppendDictRepr(text, dict, depth);
                break;
            case TemplateNamespace ns:
                text.Append("<Namespace ");
                AppendDictRepr(text, ns.Attributes, depth);
                text.Append('>');
                break;
            case TemplateCallable callable:
                text.Append("<function ").Append(callable.Name).Append('>');
                break;
            default:
                text.Append(value);
                break;
        }
    }

    private static void AppendDictRepr(StringBuilder text, IReadOnlyDictionary<string, object?> dict, int depth)
    {
        text.Append('{');
        var first = true;
        foreach (var (key, item) in dict)
        {
            text.Append(first ? "" : ", ");
            AppendStringRepr(text, key);
            text.Append(": ");
            AppendRepr(text, item, depth + 1);
            first = false;
        }

        text.Append('}');
    }

    // Python's repr of a str: single quotes unless the text has one and no double quote; unprintable characters escaped.
    private static void AppendStringRepr(StringBuilder text, string value)
    {
        var quote = value.Contains('\'', StringComparison.Ordinal) && !value.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        text.Append(quote);
        foreach (var point in CodePoints(value))
        {
            var code = point.Length == 2 ? char.ConvertToUtf32(point[0], point[1]) : point[0];
            switch (code)
            {
                case '\\':
                    text.Append(@"\\");
                    break;
                case '\t':
                    text.Append(@"\t");
                    break;
                case '\n':
                    text.Append(@"\n");
                    break;
                case '\r':
                    text.Append(@"\r");
                    break;
                case < 0x20 or 0x7F:
                    text.Append(CultureInfo.InvariantCulture, $"\\x{code:x2}");
                    break;
                case < 0x7F:
                    text.Append(code == quote ? "\\" + point : point);
                    break;
                default:
                    text.Append(IsPrintable(code) ? point
                        : code <= 0xFF ? $"\\x{code:x2}"
                        : code <= 0xFFFF ? $"\\u{code:x4}"
                        : $"\\U{code:x8}");
                    break;
            }
        }

        text.Append(quote);
    }

    // Python's str.isprintable for one code point: not a control, format, surrogate, private-use, unassigned or separator (other than space).
    private static bool IsPrintable(int code) => CharUnicodeInfo.GetUnicodeCategory(code) is not (
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
        or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator);

    private readonly record struct JsonStyle(bool EnsureAscii, string? Indent, string ItemSeparator, string KeySeparator, bool SortKeys);

    private static void AppendJson(StringBuilder text, object? value, JsonStyle style, int depth)
    {
        if (depth > MaxNesting)
        {
            throw new TemplateValueException($"the value nests deeper than {MaxNesting} levels (does it hold itself?)");
        }

        switch (value)
        {
            case null:
                text.Append("null");
                break;
            case bool b:
                text.Append(b ? "true" : "false");
                break;
            case long l:
                text.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                text.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FormatFloat(d));
                break;
            case string s:
                AppendJsonString(text, s, style.EnsureAscii);
                break;
            case IReadOnlyList<object?> list:
                AppendJsonContainer(text, '[', ']', list.Count, style, depth, i => AppendJson(text, list[i], style, depth + 1));
                break;
            case IReadOnlyDictionary<string, object?> dict:
                var pairs = style.SortKeys ? [.. dict.OrderBy(p => p.Key, Comparer<string>.Create(CompareCodePoints))] : dict.ToList();
                AppendJsonContainer(text, '{', '}', pairs.Count, style, depth, i =>
                {
                    AppendJsonString(text, pairs[i].Key, style.EnsureAscii);
                    text.Append(style.KeySeparator);
                    AppendJson(text, pairs[i].Value, style, depth + 1);
                });
                break;
            default:
                throw new TemplateValueException($"Object of type {TypeName(value)} is not JSON serializable");
        }
    }

    private static void AppendJsonContainer(StringBuilder text, char open, char close, int count, JsonStyle style, int depth, Action<int> appendItem)
    {
        text.Append(open);
        if (count == 0)
        {
            text.Append(close);
            return;
        }

        for (var i = 0; i < count; i++)
        {
            text.Append(i > 0 ? style.ItemSeparator : "");
            AppendNewLine(text, style.Indent, depth + 1);

            appendItem(i);
        }

        AppendNewLine(text, style.Indent, depth);
        text.Append(close);
    }

    private static void AppendNewLine(StringBuilder text, string? indent, int levels)
    {
        if (indent is null)
        {
            return;
        }

        text.Append('\n');
        for (var i = 0; i < levels; i++)
        {
            text.Append(indent);
        }
    }

    // As Python's json encoder: \" \\ \n \r \t \b \f, other controls as \u00XX; with ensure_ascii, everything
    // outside printable ASCII as \uXXXX (UTF-16 units, so a pair for characters above U+FFFF).
    private static void AppendJsonString(StringBuilder text, string value, bool ensureAscii)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    text.Append("\\\"");
                    break;
                case '\\':
                    text.Append(@"\\");
                    break;
                case '\n':
                    text.Append(@"\n");
                    break;
                case '\r':
                    text.Append(@"\r");
                    break;
                case '\t':
                    text.Append(@"\t");
                    break;
                case '\b':
                    text.Append(@"\b");
                    break;
                case '\f':
                    text.Append(@"\f");
                    break;
                case < ' ':
                    text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    break;
                case > '~' when ensureAscii:
                    text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }

        text.Append('"');
    }
}
