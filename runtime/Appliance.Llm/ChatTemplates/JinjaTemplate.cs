namespace Appliance.Llm.ChatTemplates;

/// <summary>
/// A Jinja template parsed once and rendered any number of times, from any thread, with the semantics of Hugging
/// Face chat templates (Jinja with <c>trim_blocks</c> and <c>lstrip_blocks</c>, Python's values and string methods).
/// </summary>
/// <remarks>
/// Supported: text; <c>{{ }}</c>; <c>{# #}</c>; whitespace control (<c>-</c> and <c>+</c>);
/// <c>if</c>/<c>elif</c>/<c>else</c>; <c>for</c> (unpacking, <c>if</c> filter, <c>else</c>, <c>loop.*</c>);
/// <c>set</c> of names and of namespace attributes; literals (strings with Python escapes, integers, floats,
/// <c>true</c>/<c>false</c>/<c>none</c> in either case, lists, tuples, dicts); attributes, items, slices, calls;
/// the operators <c>+ - * / // % ** ~ == != &lt; &gt; &lt;= &gt;= and or not in</c>, <c>not in</c>,
/// <c>x if c else y</c>; and the filters, tests, globals and methods of <see cref="TemplateBuiltins"/>. Undefined
/// values behave as Jinja's default <c>Undefined</c>. Anything else is refused when parsing, with its position.
/// </remarks>
internal sealed class JinjaTemplate
{
    private readonly string _source;
    private readonly IReadOnlyList<TemplateNode> _body;

    private JinjaTemplate(string source, IReadOnlyList<TemplateNode> body)
    {
        _source = source;
        _body = body;
    }

    /// <summary>Parses a template.</summary>
    /// <exception cref="TemplateSyntaxException">The template is not valid Jinja, or uses what this engine does not support.</exception>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var normalized = TemplateLexer.Normalize(source);
        return new JinjaTemplate(normalized, TemplateParser.Parse(normalized));
    }

    /// <summary>Renders the template with these variables.</summary>
    /// <param name="variables">Values of the types <see cref="TemplateValues"/> describes: null, string, bool, long,
    /// double, <see cref="IReadOnlyList{T}"/> of object and <see cref="IReadOnlyDictionary{TKey, TValue}"/> of string
    /// to object (kept in their enumeration order), nested as deep as needed.</param>
    /// <exception cref="ArgumentException">A variable holds a value of another type.</exception>
    /// <exception cref="TemplateRenderException">Rendering failed; <see cref="TemplateRaisedException"/> when the
    /// template called <c>raise_exception</c>.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        foreach (var (name, value) in variables)
        {
            CheckValue(value, name);
        }

        return TemplateEvaluator.Render(_source, _body, variables);
    }

    private static void CheckValue(object? value, string path)
    {
        switch (value)
        {
            case null or string or bool or long or double:
                return;
            case IReadOnlyList<object?> list:
                for (var i = 0; i < list.Count; i++)
                {
                    CheckValue(list[i], $"{path}[{i}]");
                }

                return;
            case IReadOnlyDictionary<string, object?> dict:
                foreach (var (key, item) in dict)
                {
                    CheckValue(item, $"{path}.{key}");
                }

                return;
            default:
                throw new ArgumentException($"{path} is a {value.GetType().Name}; templates take null, string, bool, long, double, lists and dicts of them", nameof(value));
        }
    }
}
