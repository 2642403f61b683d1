using System.Text;
using static Appliance.Llm.ChatTemplates.TemplateValues;

namespace Appliance.Llm.ChatTemplates;

/// <summary>
/// The filters, tests, global functions and methods templates can use, with the semantics of Jinja and Python as
/// Hugging Face's chat template environment has them (its <c>tojson</c> is <c>json.dumps</c> with
/// <c>ensure_ascii=False</c>, and <c>raise_exception</c> is its addition).
/// </summary>
/// <remarks>
/// Filters: <c>length</c>/<c>count</c>, <c>lower</c>, <c>upper</c>, <c>title</c>, <c>capitalize</c>, <c>trim</c>,
/// <c>string</c>, <c>join</c>, <c>first</c>, <c>last</c>, <c>default</c>/<c>d</c>, <c>replace</c>, <c>items</c>,
/// <c>list</c>, <c>tojson</c>. Tests: <c>defined</c>, <c>undefined</c>, <c>none</c>, <c>boolean</c>, <c>true</c>,
/// <c>false</c>, <c>integer</c>, <c>float</c>, <c>number</c>, <c>string</c>, <c>mapping</c>, <c>iterable</c>,
/// <c>sequence</c>, <c>callable</c>, <c>odd</c>, <c>even</c>. Globals: <c>range</c> (a list, at most 100000
/// items as in Jinja's sandbox), <c>namespace</c>, <c>raise_exception</c>. String methods: <c>split</c>,
/// <c>strip</c>, <c>lstrip</c>, <c>rstrip</c>, <c>startswith</c>, <c>endswith</c>, <c>upper</c>, <c>lower</c>,
/// <c>replace</c>; dict methods: <c>get</c>, <c>items</c>, <c>keys</c>, <c>values</c>. Where this differs from
/// Python: casing uses .NET's invariant simple case mapping (Python's full mapping turns ß into SS; this keeps ß);
/// <c>range</c>, <c>items()</c>, <c>keys()</c> and <c>values()</c> give lists, which iterate as Python's views and
/// ranges do but print as lists (Python prints <c>range(0, 3)</c>, <c>dict_items([...])</c>); a function prints as
/// <c>&lt;function name&gt;</c>.
/// </remarks>
internal static class TemplateBuiltins
{
    private const int MaxRange = 100_000;

    private static readonly Dictionary<string, Func<object?, TemplateArguments<object?>, object?>> s_filters = new(StringComparer.Ordinal)
    {
        ["length"] = (value, args) => NoArguments(args, "length", Length(value)),
        ["count"] = (value, args) => NoArguments(args, "count", Length(value)),
        ["lower"] = (value, args) => NoArguments(args, "lower", Str(value).ToLowerInvariant()),
        ["upper"] = (value, args) => NoArguments(args, "upper", Str(value).ToUpperInvariant()),
        ["title"] = (value, args) => NoArguments(args, "title", Title(Str(value))),
        ["capitalize"] = (value, args) => NoArguments(args, "capitalize", Capitalize(Str(value))),
        ["string"] = (value, args) => NoArguments(args, "string", Str(value)),
        ["list"] = (value, args) => NoArguments(args, "list", Iterate(value).ToArray()),
        ["first"] = (value, args) => NoArguments(args, "first", Iterate(value) is { Count: > 0 } items ? items[0] : new Undefined("No first item, sequence was empty.")),
        ["last"] = (value, args) => NoArguments(args, "last", Iterate(value) is { Count: > 0 } items ? items[^1] : new Undefined("No last item, sequence was empty.")),
        ["items"] = (value, args) => NoArguments(args, "items", Items(value)),
        ["trim"] = (value, args) => Strip(Str(value), Bind(args, "trim", Optional("chars"))[0], "trim", start: true, end: true),
        ["join"] = Join,
        ["default"] = Default,
        ["d"] = Default,
        ["replace"] = (value, args) =>
        {
            var bound = Bind(args, "replace", Required("old"), Required("new"), Optional("count"));
            return Replace(Str(value), Str(bound[0]), Str(bound[1]), bound[2] is null ? -1 : Integer(bound[2], "replace() count"));
        },
        ["tojson"] = (value, args) =>
        {
            var bound = Bind(args, "tojson", Optional("ensure_ascii", false), Optional("indent"), Optional("separators"), Optional("sort_keys", false));
            return ToJson(value, IsTrue(bound[0]), JsonIndent(bound[1]), JsonSeparators(bound[2]), IsTrue(bound[3]));
        },
    };

    private static readonly Dictionary<string, Func<object?, bool>> s_tests = new(StringComparer.Ordinal)
    {
        ["defined"] = value => value is not Undefined,
        ["undefined"] = value => value is Undefined,
        ["none"] = value => value is null,
        ["boolean"] = value => value is bool,
        ["true"] = value => value is true,
        ["false"] = value => value is false,
        ["integer"] = value => value is long,
        ["float"] = value => value is double,
        ["number"] = IsNumber,
        ["string"] = value => value is string,
        ["mapping"] = value => value is IReadOnlyDictionary<string, object?>,
        ["iterable"] = value => value is string or IReadOnlyList<object?> or IReadOnlyDictionary<string, object?> or Undefined,
        ["sequence"] = value => value is string or IReadOnlyList<object?> or IReadOnlyDictionary<string, object?> or Undefined,
        ["callable"] = value => value is TemplateCallable or Undefined, // Jinja's Undefined can be called (and fails when it is)
        ["odd"] = value => AreEqual(Arithmetic("%", value, 2L), 1L),
        ["even"] = value => AreEqual(Arithmetic("%", value, 2L), 0L),
    };

    /// <summary>The filters, in order, for error messages.</summary>
    public static IEnumerable<string> FilterNames => s_filters.Keys.Order(StringComparer.Ordinal);

    /// <summary>The tests, in order, for error messages.</summary>
    public static IEnumerable<string> TestNames => s_tests.Keys.Order(StringComparer.Ordinal);

    /// <summary>The global functions: <c>range</c>, <c>namespace</c> and <c>raise_exception</c>.</summary>
    public static IReadOnlyDictionary<string, object?> Globals { get; } = new Dictionary<string, object?>(StringComparer.Ordinal)
    {
        ["range"] = new TemplateCallable("range", Range),
        ["namespace"] = new TemplateCallable("namespace", Namespace),
        ["raise_exception"] = new TemplateCallable("raise_exception", args => throw new TemplateValueException(Str(Bind(args, "raise_exception", Required("message"))[0]), raised: true)),
    };

    /// <summary>True when <paramref name="name"/> is a filter this engine has.</summary>
    public static bool IsFilter(string name) => s_filters.ContainsKey(name);

    /// <summary>True when <paramref name="name"/> is a test this engine has.</summary>
    public static bool IsTest(string name) => s_tests.ContainsKey(name);

    /// <summary>Applies a filter (one <see cref="IsFilter"/> accepts).</summary>
    /// <exception cref="TemplateValueException">The value or the arguments do not suit the filter.</exception>
    public static object? ApplyFilter(string name, object? value, TemplateArguments<object?> arguments) => s_filters[name](value, arguments);

    /// <summary>Runs a test (one <see cref="IsTest"/> accepts).</summary>
    /// <exception cref="TemplateValueException">The value does not suit the test (<c>odd</c> of a string).</exception>
    public static bool RunTest(string name, object? value) => s_tests[name](value);

    /// <summary>A string's or dict's method bound to it, for <c>value.name(...)</c>.</summary>
    public static bool TryGetMethod(object? target, string name, out TemplateCallable? method)
    {
        Func<TemplateArguments<object?>, object?>? call = (target, name) switch
        {
            (string s, "split") => args =>
            {
                var bound = Bind(args, "split", Optional("sep"), Optional("maxsplit", -1L));
                return Split(s, bound[0] is null ? null : Text(bound[0], "split() separator"), Integer(bound[1], "split() maxsplit"));
            },
            (string s, "strip") => args => Strip(s, Bind(args, "strip", Optional("chars"))[0], "strip", start: true, end: true),
            (string s, "lstrip") => args => Strip(s, Bind(args, "lstrip", Optional("chars"))[0], "lstrip", start: true, end: false),
            (string s, "rstrip") => args => Strip(s, Bind(args, "rstrip", Optional("chars"))[0], "rstrip", start: false, end: true),
            (string s, "startswith") => args => Affixes(Bind(args, "startswith", Required("prefix"))[0], "startswith").Any(p => s.StartsWith(p, StringComparison.Ordinal)),
            (string s, "endswith") => args => Affixes(Bind(args, "endswith", Required("suffix"))[0], "endswith").Any(p => s.EndsWith(p, StringComparison.Ordinal)),
            (string s, "upper") => args => NoArguments(args, "upper", s.ToUpperInvariant()),
            (string s, "lower") => args => NoArguments(args, "lower", s.ToLowerInvariant()),
            (string s, "replace") => args =>
            {
                var bound = Bind(args, "replace", Required("old"), Required("new"), Optional("count", -1L));
                return Replace(s, Text(bound[0], "replace() old"), Text(bound[1], "replace() new"), Integer(bound[2], "replace() count"));
            },
            (IReadOnlyDictionary<string, object?> d, "get") => args =>
            {
                var bound = Bind(args, "get", Required("key"), Optional("default"));
                return bound[0] is string key && d.TryGetValue(key, out var found) ? found : bound[1];
            },
            (IReadOnlyDictionary<string, object?> d, "items") => args => NoArguments(args, "items", Items(d)),
            (IReadOnlyDictionary<string, object?> d, "keys") => args => NoArguments(args, "keys", d.Keys.Cast<object?>().ToArray()),
            (IReadOnlyDictionary<string, object?> d, "values") => args => NoArguments(args, "values", d.Values.ToArray()),
            _ => null,
        };
        method = call is null ? null : new TemplateCallable(name, call);
        return method is not null;
    }

    /// <summary>
    /// Binds arguments to parameters as Python does: positional ones in order, then keyword ones by name; a
    /// parameter without either takes its default.
    /// </summary>
    /// <exception cref="TemplateValueException">Too many arguments, an unknown or repeated keyword, or a required one missing.</exception>
    private static object?[] Bind(TemplateArguments<object?> args, string function, params Parameter[] parameters)
    {
        if (args.Positional.Count > parameters.Length)
        {
            throw new TemplateValueException($"{function}() takes at most {parameters.Length} arguments ({args.Positional.Count} given)");
        }

        var values = new object?[parameters.Length];
        var given = new bool[parameters.Length];
        for (var i = 0; i < args.Positional.Count; i++)
        {
            values[i] = args.Positional[i];
            given[i] = true;
        }

        foreach (var (name, value) in args.Keywords)
        {
            var index = Array.FindIndex(parameters, p => p.Name == name);
            if (index < 0)
            {
                throw new TemplateValueException($"{function}() got an unexpected keyword argument '{name}'");
            }

            if (given[index])
            {
                throw new TemplateValueException($"{function}() got multiple values for argument '{name}'");
            }

            values[index] = value;
            given[index] = true;
        }

        for (var i = 0; i < parameters.Length; i++)
        {
            if (!given[i])
            {
                values[i] = parameters[i].IsRequired ? throw new TemplateValueException($"{function}() missing required argument '{parameters[i].Name}'") : parameters[i].Default;
            }
        }

        return values;
    }

    private static Parameter Required(string name) => new(name, true, null);

    private static Parameter Optional(string name, object? defaultValue = null) => new(name, false, defaultValue);

    private static T NoArguments<T>(TemplateArguments<object?> args, string function, T result)
    {
        Bind(args, function);
        return result;
    }

    private static string Text(object? value, string what) =>
        value as string ?? throw new TemplateValueException($"{what} must be a string, not '{TypeName(value)}'");

    private static long Integer(object? value, string what) =>
        value is long or bool ? ToLong(value) : throw new TemplateValueException($"{what} must be an integer, not '{TypeName(value)}'");

    private static object?[] Items(object? value) => value switch
    {
        IReadOnlyDictionary<string, object?> dict => [.. dict.Select(p => new TemplateTuple([p.Key, p.Value]))],
        Undefined => [],
        _ => throw new TemplateValueException("Can only get item pairs from a mapping."),
    };

    private static string Join(object? value, TemplateArguments<object?> args)
    {
        var bound = Bind(args, "join", Optional("d", ""), Optional("attribute"));
        if (bound[1] is not null)
        {
            throw new TemplateValueException("join(attribute=...) is not supported");
        }

        return string.Join(Str(bound[0]), Iterate(value).Select(Str));
    }

    private static object? Default(object? value, TemplateArguments<object?> args)
    {
        var bound = Bind(args, "default", Optional("default_value", ""), Optional("boolean", false));
        return value is Undefined || (IsTrue(bound[1]) && !IsTrue(value)) ? bound[0] : value;
    }

    private static string? JsonIndent(object? indent) => indent switch
    {
        null => null,
        string text => text,
        long or bool => new string(' ', (int)Math.Clamp(ToLong(indent), 0, 64)),
        _ => throw new TemplateValueException($"tojson() indent must be an integer or a string, not '{TypeName(indent)}'"),
    };

    private static (string, string)? JsonSeparators(object? separators) => separators switch
    {
        null => null,
        IReadOnlyList<object?> { Count: 2 } pair when pair[0] is string item && pair[1] is string key => (item, key),
        _ => throw new TemplateValueException("tojson() separators must be two strings"),
    };

    private static IEnumerable<string> Affixes(object? affix, string function) => affix switch
    {
        string one => [one],
        TemplateTuple several when several.All(s => s is string) => several.Cast<string>(),
        _ => throw new TemplateValueException($"{function}() takes a string or a tuple of strings, not '{TypeName(affix)}'"),
    };

    private static object?[] Range(TemplateArguments<object?> args)
    {
        var bound = Bind(args, "range", Required("start"), Optional("stop"), Optional("step", 1L));
        var (start, stop) = bound[1] is null ? (0L, Integer(bound[0], "range()")) : (Integer(bound[0], "range()"), Integer(bound[1], "range()"));
        var step = Integer(bound[2], "range() step");
        if (step == 0)
        {
            throw new TemplateValueException("range() step must not be zero");
        }

        var count = step > 0 ? (stop - start + step - 1) / step : (start - stop - step - 1) / -step;
        if (count > MaxRange)
        {
            throw new TemplateValueException($"range() of {count} items is more than the {MaxRange} allowed");
        }

        return [.. Enumerable.Range(0, (int)Math.Max(count, 0)).Select(i => (object?)(start + (i * step)))];
    }

    private static TemplateNamespace Namespace(TemplateArguments<object?> args)
    {
        if (args.Positional.Count > 1 || (args.Positional.Count == 1 && args.Positional[0] is not IReadOnlyDictionary<string, object?>))
        {
            throw new TemplateValueException("namespace() takes keyword arguments and at most one dict");
        }

        var ns = new TemplateNamespace();
        foreach (var (key, value) in args.Positional.Count == 1 ? (IReadOnlyDictionary<string, object?>)args.Positional[0]! : new Dictionary<string, object?>())
        {
            ns.Attributes[key] = value;
        }

        foreach (var (key, value) in args.Keywords)
        {
            ns.Attributes[key] = value;
        }

        return ns;
    }

    // Python's str.split: with no separator, runs of whitespace split and the ends are dropped.
    private static object?[] Split(string text, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            var i = 0;
            while (true)
            {
                while (i < text.Length && TemplateLexer.IsWhitespace(text[i]))
                {
                    i++;
                }

                if (i >= text.Length)
                {
                    break;
                }

                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(text[i..]);
                    break;
                }

                var end = i;
                while (end < text.Length && !TemplateLexer.IsWhitespace(text[end]))
                {
                    end++;
                }

                parts.Add(text[i..end]);
                i = end;
            }

            return [.. parts];
        }

        if (separator.Length == 0)
        {
            throw new TemplateValueException("empty separator");
        }

        var from = 0;
        for (var at = text.IndexOf(separator, StringComparison.Ordinal); at >= 0 && (maxSplit < 0 || parts.Count < maxSplit); at = text.IndexOf(separator, from, StringComparison.Ordinal))
        {
            parts.Add(text[from..at]);
            from = at + separator.Length;
        }

        parts.Add(text[from..]);
        return [.. parts];
    }

    // Python's str.strip/lstrip/rstrip: whitespace, or any of the given characters.
    private static string Strip(string text, object? chars, string function, bool start, bool end)
    {
        if (chars is not (null or string))
        {
            throw new TemplateValueException($"{function}() argument must be a string or None, not '{TypeName(chars)}'");
        }

        var points = CodePoints(text);
        var set = chars is string s ? CodePoints(s).ToHashSet(StringComparer.Ordinal) : null;
        bool Strippable(string point) => set?.Contains(point) ?? (point.Length == 1 && TemplateLexer.IsWhitespace(point[0]));
        var first = 0;
        var last = points.Count;
        while (start && first < last && Strippable(points[first]))
        {
            first++;
        }

        while (end && last > first && Strippable(points[last - 1]))
        {
            last--;
        }

        return string.Concat(points.Skip(first).Take(last - first));
    }

    // Python's str.replace; an empty old string inserts the new one around every character.
    private static string Replace(string text, string old, string replacement, long count)
    {
        count = count < 0 ? long.MaxValue : count;
        var result = new StringBuilder();
        if (old.Length == 0)
        {
            var points = CodePoints(text);
            for (var i = 0; i <= points.Count; i++)
            {
                result.Append(i < count ? replacement : "").Append(i < points.Count ? points[i] : "");
            }

            return result.ToString();
        }

        var from = 0;
        for (var done = 0L; done < count; done++)
        {
            var at = text.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            result.Append(text, from, at - from).Append(replacement);
            from = at + old.Length;
        }

        return result.Append(text, from, text.Length - from).ToString();
    }

    // Jinja's title filter: the text is cut into runs of separators ('-', whitespace, an opening bracket) and runs
    // of other characters; each run starts upper case and goes on lower case.
    private static string Title(string text)
    {
        var result = new StringBuilder(text.Length);
        bool? previous = null;
        foreach (var point in CodePoints(text))
        {
            var separator = point.Length == 1 && (point[0] is '-' or '(' or '{' or '[' or '<' || TemplateLexer.IsWhitespace(point[0]));
            result.Append(separator != previous ? point.ToUpperInvariant() : point.ToLowerInvariant());
            previous = separator;
        }

        return result.ToString();
    }

    private static string Capitalize(string text)
    {
        var points = CodePoints(text);
        return points.Count == 0 ? "" : points[0].ToUpperInvariant() + string.Concat(points.Skip(1)).ToLowerInvariant();
    }

    private readonly record struct Parameter(string Name, bool IsRequired, object? Default);
}
