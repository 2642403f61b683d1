using Appliance.Llm.ChatTemplates;

namespace Appliance.Llm.Tests.ChatTemplates;

/// <summary>
/// The template engine construct by construct. Every expected output is what Python's Jinja 3.1 renders in Hugging
/// Face's chat template environment (trim_blocks, lstrip_blocks, its tojson and raise_exception).
/// </summary>
public sealed class JinjaTemplateTests
{
    private static readonly OrderedDictionary<string, object?> s_dict = new() { ["a"] = 1L, ["b"] = "two", ["keys"] = 5L };

    [Theory]
    [InlineData("plain text, no tags", "plain text, no tags")]
    [InlineData("{{ 'a' }}{{ \"b\" }}", "ab")]
    [InlineData("x{# a comment {{ not rendered }} #}y", "xy")]
    [InlineData("{{ '{{' }}{{ {'a': {'b': 1}} }}", "{{{'a': {'b': 1}}")]
    [InlineData("one trailing newline is dropped\n", "one trailing newline is dropped")]
    [InlineData("only one\n\n", "only one\n")]
    [InlineData("a\r\nb\r\n{% if true %}\r\nc\r\n{% endif %}\r\n", "a\nb\nc\n")]
    public void TextOutputsAndComments(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("  {% if true %}\n  yes\n  {% endif %}\nx {% if true %}y{% endif %}", "  yes\nx y")]
    [InlineData("line1\n    {% if true %}\n    in\n    {% endif %}\nline2", "line1\n    in\nline2")]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "abc")]
    [InlineData("{{- 'a' -}}\n\n  {{ 'b' }}  \n {{- 'c' }}", "abc")]
    [InlineData("{{ 1 }}\n{{ 2 }}\n{% if true %}\nA\n{% endif %}\n\n", "1\n2\nA\n")]
    [InlineData("a\n{# comment #}\nb\n  {# indented #}\nc {#- strip -#} d", "a\nb\ncd")]
    [InlineData("  {%+ if true %}x{% endif +%}\ny", "  x\ny")]
    [InlineData("x {%- if true %} y {% endif -%}\n\n z", "x y z")]
    [InlineData("{% for i in range(3) %}{{ i }}\n{% endfor %}", "0\n1\n2\n")]
    [InlineData("{% for i in range(3) -%}\n  {{ i }}\n{%- endfor %}", "012")]
    [InlineData("{{ 'a' }}  {% if true %}  b{% endif %}", "a    b")]
    [InlineData("\t{% set a = 1 %}\t{{ a }}\n", "\t1")]
    [InlineData("{% for m in ['u', 'a'] %}\n    {%- if m == 'u' %}\n        U\n    {%- else %}\n        A\n    {% endif %}\n{% endfor %}", "        U        A\n")]
    public void WhitespaceControlIsJinjasWithTrimAndLstripBlocks(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ \"a\\d\\x41\\u00e9\\n\\t\\\\\\'\\\"\" }}", "a\\dAé\n\t\\'\"")]
    [InlineData("{{ 'a' 'b' \"c\" }}", "abc")]
    [InlineData("{{ '\\101' }}", "A")]
    [InlineData("{{ \"\\U0001F600\" }}", "😀")]
    [InlineData("{{ 42 }}|{{ 1.5 }}|{{ 1e3 }}|{{ 2.5e-10 }}", "42|1.5|1000.0|2.5e-10")]
    [InlineData("{{ 1e16 }}|{{ 1e15 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ -0.5 }}|{{ 10 / 5 }}", "1e+16|1000000000000000.0|0.0001|1e-05|-0.5|2.0")]
    [InlineData("{{ true }}|{{ True }}|{{ false }}|{{ False }}|{{ none }}|{{ None }}", "True|True|False|False|None|None")]
    [InlineData("{{ [1, 'a', none, 1.0, true] }}", "[1, 'a', None, 1.0, True]")]
    [InlineData("{{ {'a': \"it's\", 'b': [1]} }}", "{'a': \"it's\", 'b': [1]}")]
    [InlineData("{{ (1,) }}|{{ (1, 2) }}|{{ () }}|{{ [] }}|{{ {} }}", "(1,)|(1, 2)|()|[]|{}")]
    [InlineData("{{ [1, 2,] }}|{{ {'k': 'v',} }}", "[1, 2]|{'k': 'v'}")]
    public void Literals(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ 1 + 2 }}|{{ 7 - 10 }}|{{ 3 * 4 }}|{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}", "3|-3|12|3.5|3|-4|1|2")]
    [InlineData("{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 1.5 * 2 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}|{{ true + 1 }}", "1024|0.5|3.0|3.0|0.5|2")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true ~ undefined_thing }}", "a1NoneTrue")]
    [InlineData("{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1] + [2] }}|{{ (1,) + (2,) }}|{{ 'a' + 'b' }}", "ababab|[1, 1]|[1, 2]|(1, 2)|ab")]
    [InlineData("{{ (1 + 2) ~ 'b' }}|{{ 2 * 3 ~ 4 }}|{{ -2 ** 2 }}|{{ (1 + 2) * 3 }}", "3b|64|4|9")]
    [InlineData("{{ 1 == 1.0 }}|{{ true == 1 }}|{{ [1, 2] == [1, 2] }}|{{ (1, 2) == [1, 2] }}|{{ none == none }}|{{ 'a' != 'b' }}", "True|True|True|False|True|True")]
    [InlineData("{{ 'b' > 'a' }}|{{ [1, 2] < [1, 3] }}|{{ 2 <= 2.0 }}|{{ 3 >= 4 }}|{{ 2 < 3 < 4 }}|{{ 3 < 2 < 4 }}", "True|True|True|False|True|False")]
    [InlineData("{{ undefined_thing == undefined_thing }}|{{ undefined_thing == none }}", "True|False")]
    [InlineData("{{ not 1 == 2 }}|{{ not true and false }}|{{ 1 and 2 }}|{{ 0 or 'x' }}|{{ [] or none }}|{{ not not 'x' }}", "True|False|2|x|None|True")]
    [InlineData("{{ 'a' in 'cat' }}|{{ 'z' not in 'cat' }}|{{ 2 in [1, 2] }}|{{ 'a' in {'a': 1} }}|{{ 'b' in {'a': 1} }}|{{ 1 in undefined_thing }}", "True|True|True|True|False|False")]
    [InlineData("{{ 'x' if none is none else 'y' }}{{ 'p' if false else 'q' if none else 'r' }}|{{ 1 if false }}|", "xr||")]
    public void Operators(string template, string expected) => Assert.Equal(expected, Render(template));

    [Fact]
    public void AttributesItemsAndSlices()
    {
        var message = new OrderedDictionary<string, object?> { ["role"] = "user", ["content"] = "héllo 😀" };
        var variables = new Dictionary<string, object?> { ["m"] = message, ["xs"] = new object?[] { 1L, 2L, 3L }, ["d"] = s_dict, ["n"] = null };
        Assert.Equal("user|user|héllo 😀", Render("{{ message['role'] }}|{{ message.role }}|{{ message.content }}", ("message", message)));
        Assert.Equal("3|1|2|", Render("{{ xs[-1] }}|{{ xs[0] }}|{{ xs.1 }}|{{ xs[5] }}", variables));
        Assert.Equal("[2, 3]|[1, 2]|[3, 2, 1]|[3, 1]|[]", Render("{{ xs[1:] }}|{{ xs[:-1] }}|{{ xs[::-1] }}|{{ xs[::-2] }}|{{ xs[5:] }}", variables));
        Assert.Equal("olléh|😀|7|llo", Render("{{ m.content[:5][::-1] }}|{{ m.content[-1] }}|{{ m.content|length }}|{{ m.content[2:5] }}", variables));
        Assert.Equal("cb|bcd|ef|ace", Render("{{ 'abc'[5:0:-1][:2] }}|{{ 'abcdef'[1:4] }}|{{ 'abcdef'[-2:] }}|{{ 'abcdef'[::2] }}"));

        // A dict's methods come first through '.', its keys first through '[]'; a missing one is undefined.
        Assert.Equal("5|1|two||", Render("{{ d['keys'] }}|{{ d.a }}|{{ d['b'] }}|{{ d.missing }}|{{ n.anything }}", variables));
        Assert.Equal("True", Render("{{ d.keys is callable }}", variables));
    }

    [Fact]
    public void ConditionalsWithElifAndElse()
    {
        Assert.Equal("yes", Render("{% if xs|length > 2 and d.a == 1 or false %}yes{% elif true %}no{% else %}never{% endif %}", ("xs", new object?[] { 1L, 2L, 3L }), ("d", s_dict)));
        Assert.Equal("c", Render("{% if false %}a{% elif false %}b{% elif true %}c{% endif %}"));
        Assert.Equal("else", Render("{% if '' %}a{% elif [] %}b{% elif {} %}c{% elif 0.0 %}d{% elif undefined_thing %}e{% else %}else{% endif %}"));
        Assert.Equal("5", Render("{% if true %}{% set z = 5 %}{% endif %}{{ z }}"));
    }

    [Fact]
    public void LoopsWithLoopVariablesElseFilterAndUnpacking()
    {
        Assert.Equal(
            "01TrueFalse3322|12FalseFalse32113|23FalseTrue3102|",
            Render("{% for i in [1, 2, 3] %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}"));
        Assert.Equal("empty", Render("{% for i in [] %}no{% else %}empty{% endfor %}"));
        Assert.Equal("21 32 |none", Render("{% for i in [1, 2, 3] if i > 1 %}{{ i }}{{ loop.index }} {% endfor %}|{% for i in [1] if i > 1 %}{% else %}none{% endfor %}"));
        Assert.Equal("ab|a:1,b:two,keys:5|a=1;b=two;keys=5;", Render("{% for c in 'ab' %}{{ c }}{% endfor %}|{% for k, v in d|items %}{{ k }}:{{ v }}{% if not loop.last %},{% endif %}{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", ("d", s_dict)));
        Assert.Equal("akeysb", Render("{% for k in d %}{{ k }}{% endfor %}", ("d", new OrderedDictionary<string, object?> { ["a"] = 1L, ["keys"] = 2L, ["b"] = 3L })));
        Assert.Equal("0|01", Render("{% for x in [[1, 2], [3, 4]] %}{% for y in x %}{% if loop.first %}{{ loop.index0 }}{% endif %}{% endfor %}{% if not loop.last %}|{% else %}{{ loop.index0 }}{% endif %}{% endfor %}"));
        Assert.Equal("", Render("{% for x in undefined_thing %}never{% endfor %}"));
    }

    [Fact]
    public void AssignmentsFollowJinjasScopes()
    {
        // A loop body's assignments last one iteration and never leak out; an if's do; a namespace carries values out.
        Assert.Equal("[]|", Render("{% for i in [1, 2, 3] %}{% if i == 2 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}|{{ y }}"));
        Assert.Equal("7x<Namespace {'a': 7, 'b': 'x'}>", Render("{% set ns = namespace(a=1, b='x') %}{% for i in [1, 2, 3] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}{{ ns }}"));
        Assert.Equal("12(1, 2)", Render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}"));
        Assert.Equal("1|q", Render("{% set ns = namespace({'x': 1}) %}{{ ns.x }}|{% set ns.y = 'q' %}{{ ns['y'] }}"));
        Assert.Equal("outer", Render("{% set v = 'outer' %}{% for i in [1] %}{% set v = 'inner' %}{% endfor %}{{ v }}"));
        Assert.Equal("False", Render("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ add_generation_prompt }}"));
    }

    [Fact]
    public void UndefinedValuesAreFalseEmptyAndIterateAsNothing()
    {
        Assert.Equal(
            "|x|False|True|0|dflt|dflt||",
            Render("{{ nothing }}|{{ nothing ~ 'x' }}|{{ nothing is defined }}|{{ nothing is undefined }}|{{ nothing|length }}|{{ nothing|default('dflt') }}|{{ nothing|d('dflt') }}|{{ nothing|string }}|{{ nothing|lower }}"));
        Assert.Equal("|x|dflt", Render("{{ ''|default('dflt') }}|{{ 'x'|default('dflt', true) }}|{{ ''|default('dflt', true) }}"));
        Assert.Equal("no", Render("{% if nothing %}yes{% else %}no{% endif %}"));
        Assert.Equal("True|True|True", Render("{{ nothing is iterable }}|{{ nothing is not mapping }}|{{ nothing is callable }}"));
    }

    [Fact]
    public void SlicesAndMembershipFailWhereJinjaFailsAtRunTime()
    {
        // A slice bypasses Jinja's fallback to undefined (an item does not): slicing None or a dict is an error.
        Assert.Equal("'NoneType' object is not subscriptable", Assert.Throws<TemplateRenderException>(() => Render("{{ x[1:] }}", ("x", null))).Reason);
        Assert.Equal("unhashable type: 'slice'", Assert.Throws<TemplateRenderException>(() => Render("{{ x[:1] }}", ("x", s_dict))).Reason);
        Assert.Equal("slice indices must be integers or None", Assert.Throws<TemplateRenderException>(() => Render("{{ x['a':] }}", ("x", "abc"))).Reason);
        Assert.Equal("|", Render("{{ x[1] }}|{{ x.a }}", ("x", null)));
        Assert.Equal("unhashable type: 'list'", Assert.Throws<TemplateRenderException>(() => Render("{{ [] in x }}", ("x", s_dict))).Reason);
        Assert.Equal("False", Render("{{ (1, 2) in x }}", ("x", s_dict)));
    }

    [Theory]
    [InlineData("{{ x is defined }}{{ x is undefined }}{{ x is none }}{{ x is string }}{{ x is mapping }}{{ x is iterable }}{{ x is number }}", "s", "TrueFalseFalseTrueFalseTrueFalse")]
    [InlineData("{{ x is integer }}{{ x is float }}{{ x is number }}{{ x is boolean }}{{ x is odd }}{{ x is even }}", 3L, "TrueFalseTrueFalseTrueFalse")]
    [InlineData("{{ x is integer }}{{ x is float }}{{ x is number }}{{ x is odd }}", 3.0, "FalseTrueTrueTrue")]
    [InlineData("{{ x is boolean }}{{ x is true }}{{ x is false }}{{ x is number }}{{ x is integer }}", true, "TrueTrueFalseTrueFalse")]
    [InlineData("{{ x is none }}{{ x is not none }}{{ x is defined }}{{ x is sequence }}", null, "TrueFalseTrueFalse")]
    public void Tests(string template, object? x, string expected) => Assert.Equal(expected, Render(template, ("x", x)));

    [Fact]
    public void TestsOnContainersAndFunctions()
    {
        Assert.Equal("TrueTrueTrueFalse", Render("{{ [1] is iterable }}{{ {} is mapping }}{{ range is callable }}{{ [] is mapping }}"));
        Assert.Equal("TrueTrue", Render("{{ namespace() is not mapping }}{{ 'a' is sequence }}"));
    }

    [Theory]
    [InlineData("{{ [1, 2, 3]|length }} {{ 'héllo'|length }} {{ 'a😀b'|length }} {{ {'a': 1}|count }}", "3 5 3 1")]
    [InlineData("{{ 'ABC'|lower }} {{ 'abc'|upper }} {{ 5|lower }}", "abc ABC 5")]
    [InlineData("{{ 'hello world-foo (bar) [baz] <q> HELLO'|title }}|{{ 'hELLO wORLD'|capitalize }}", "Hello World-Foo (Bar) [Baz] <Q> Hello|Hello world")]
    [InlineData("{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 1|string ~ none|string }}", "x|hi|1None")]
    [InlineData("{{ [3, 1]|join(',') }}|{{ [1, 'a', none]|join }}|{{ 'abc'|join('-') }}|{{ [1, 2]|join(d='+') }}", "3,1|1aNone|a-b-c|1+2")]
    [InlineData("{{ [1, 2]|first }}{{ [1, 2]|last }}{{ 'ab'|first }}{{ 'ab'|last }}{{ {'k': 1}|first }}|{{ []|first }}|", "12abk||")]
    [InlineData("{{ 'abc'|replace('b', 'X') }}|{{ 'aXbXc'|replace('X', '-', 1) }}|{{ 'a'|replace('', '.') }}", "aXc|a-bXc|.a.")]
    [InlineData("{{ {'a': 1, 'b': [2]}|items|list }}|{{ 'ab'|list }}|{{ {'a': 1}|list }}", "[('a', 1), ('b', [2])]|['a', 'b']|['a']")]
    [InlineData("{{ nothing|items|list }}|{{ nothing|first }}|{{ nothing|join }}", "[]||")]
    public void Filters(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ [1, 2.5, 'x', none, true]|tojson }}", "[1, 2.5, \"x\", null, true]")]
    [InlineData("{{ {'name': 'f', 'args': {'x': 1}}|tojson }}", "{\"name\": \"f\", \"args\": {\"x\": 1}}")]
    [InlineData("{{ 'é\"\\n\\u0001\\\\'|tojson }}", "\"é\\\"\\n\\u0001\\\\\"")]
    [InlineData("{{ 'é😀'|tojson(ensure_ascii=true) }}", "\"\\u00e9\\ud83d\\ude00\"")]
    [InlineData("{{ {'a': [1, none]}|tojson(indent=2) }}", "{\n  \"a\": [\n    1,\n    null\n  ]\n}")]
    [InlineData("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}|{{ {'a': 1}|tojson(separators=(',', ':')) }}|{{ []|tojson(indent=2) }}|{{ 1.0|tojson }}", "{\"a\": 2, \"b\": 1}|{\"a\":1}|[]|1.0")]
    public void TojsonIsPythonsJsonDumps(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ '  a b  '.strip() }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ '\\n\\nhi\\n'.strip('\\n') }}|{{ 'xyhiyx'.lstrip('xy') }}", "a b|a|a|hi|hiyx")]
    [InlineData("{{ 'ab  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.split(' ', 1) }}|{{ '  a  b  '.split(none, 1) }}", "['ab', 'c']|['a', 'b', '', 'c']|['a', 'b c']|['a', 'b  ']")]
    [InlineData("{{ 'r</think>a</think>b'.split('</think>')[-1] }}|{{ 'a b'.split(sep=' ', maxsplit=0) }}", "b|['a b']")]
    [InlineData("{{ 'Hello'.upper() }}|{{ 'Hello'.lower() }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.startswith(('x', 'h')) }}|{{ 'hello'.endswith('lo') }}|{{ 'hello'.endswith(('x',)) }}", "HELLO|hello|True|True|True|False")]
    [InlineData("{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abc'.replace('', '-') }}|{{ 'abc'.replace('x', 'y') }}", "bba|-a-b-c-|abc")]
    public void StringMethods(string template, string expected) => Assert.Equal(expected, Render(template));

    [Fact]
    public void DictMethodsAndGlobals()
    {
        Assert.Equal("1|None|9|[('a', 1), ('b', 'two'), ('keys', 5)]|['a', 'b', 'keys']|[1, 'two', 5]", Render("{{ d.get('a') }}|{{ d.get('zz') }}|{{ d.get('zz', 9) }}|{{ d.items()|list }}|{{ d.keys()|list }}|{{ d.values()|list }}", ("d", s_dict)));
        Assert.Equal("[0, 1, 2]|[1, 4, 7]|[5, 3, 1]|[]", Render("{{ range(3)|list }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}|{{ range(0)|list }}"));
    }

    [Fact]
    public void RaiseExceptionIsATypedErrorWithTheTemplatesMessage()
    {
        var e = Assert.Throws<TemplateRaisedException>(() => Render("{% for m in messages %}\n  {% if m.role == 'tool' %}{{ raise_exception('Tool messages are not supported: ' ~ m.content) }}{% endif %}\n{% endfor %}", ("messages", new object?[] { new OrderedDictionary<string, object?> { ["role"] = "tool", ["content"] = "42" } })));
        Assert.Equal("Tool messages are not supported: 42", e.Reason);
        Assert.Equal(new TemplatePosition(2, 31), e.Position);
    }

    [Theory]
    [InlineData("{{ 'a' + 1 }}", 1, 4, "unsupported operand types for +: 'str' and 'int'")]
    [InlineData("{{ 1 + 2 ~ 'b' }}", 1, 4, "unsupported operand types for +: 'int' and 'str'")]
    [InlineData("line1\n{{ nothing.attr }}", 2, 4, "'nothing' is undefined")]
    [InlineData("{{ nothing + 1 }}", 1, 4, "'nothing' is undefined")]
    [InlineData("{{ {'a': 1}.b.c }}", 1, 4, "'dict object' has no attribute 'b'")]
    [InlineData("{{ nothing() }}", 1, 4, "'nothing' is undefined")]
    [InlineData("{{ 1 in 'abc' }}", 1, 4, "'in <string>' requires string as left operand, not int")]
    [InlineData("{{ none < 1 }}", 1, 4, "'<' not supported between instances of 'NoneType' and 'int'")]
    [InlineData("{{ 1 / 0 }}", 1, 4, "division by zero")]
    [InlineData("{{ 9223372036854775807 + 1 }}", 1, 4, "the result of 9223372036854775807 + 1 does not fit in a 64-bit integer")]
    [InlineData("{{ 'a'.split('') }}", 1, 4, "empty separator")]
    [InlineData("{{ 'a'.startswith(['a']) }}", 1, 4, "startswith() takes a string or a tuple of strings, not 'list'")]
    [InlineData("{{ 'a'.strip(1, 2) }}", 1, 4, "strip() takes at most 1 arguments (2 given)")]
    [InlineData("{{ [1]|join(x=1) }}", 1, 8, "join() got an unexpected keyword argument 'x'")]
    [InlineData("{{ 3(1) }}", 1, 4, "'int' object is not callable")]
    [InlineData("{{ nothing|tojson }}", 1, 12, "Object of type Undefined is not JSON serializable")]
    [InlineData("{{ range(1000000) }}", 1, 4, "range() of 1000000 items is more than the 100000 allowed")]
    [InlineData("{{ '%s' % 1 }}", 1, 4, "string formatting with '%' is not supported")]
    [InlineData("{% for a, b in [[1, 2, 3]] %}{% endfor %}", 1, 1, "too many values to unpack (expected 2)")]
    [InlineData("{% set ns = 1 %}\n{% set ns.x = 1 %}", 2, 1, "cannot assign attribute on 'ns', which is not a namespace()")]
    [InlineData("{% for x in 5 %}{% endfor %}", 1, 1, "'int' object is not iterable")]
    public void RenderErrorsNameTheirPosition(string template, int line, int column, string reason)
    {
        var e = Assert.Throws<TemplateRenderException>(() => Render(template));
        Assert.Equal(reason, e.Reason);
        Assert.Equal(new TemplatePosition(line, column), e.Position);
        Assert.StartsWith($"line {line}, column {column}: ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{% macro f() %}x{% endmacro %}", 1, 4, "'{% macro %}' is not supported")]
    [InlineData("{% break %}", 1, 4, "'{% break %}' is not supported")]
    [InlineData("{% include 'x' %}", 1, 4, "'{% include %}' is not supported")]
    [InlineData("{% frob %}", 1, 4, "unknown tag 'frob'")]
    [InlineData("{% raw %}{{ x }}{% endraw %}", 1, 4, "{% raw %} blocks are not supported")]
    [InlineData("{% set x %}a{% endset %}", 1, 1, "block assignments ('{% set x %}...{% endset %}') are not supported")]
    [InlineData("{% for x in y recursive %}{% endfor %}", 1, 15, "recursive loops are not supported")]
    [InlineData("a\n  {{ x | bogus }}", 2, 10, "unknown filter 'bogus' (this engine has: capitalize, count, d, default, first, items, join, last, length, list, lower, replace, string, title, tojson, trim, upper)")]
    [InlineData("{{ x is divisibleby(3) }}", 1, 9, "unknown test 'divisibleby' (this engine has: boolean, callable, defined, even, false, float, integer, iterable, mapping, none, number, odd, sequence, string, true, undefined)")]
    [InlineData("{{ x is string 3 }}", 1, 16, "the test 'string' takes no argument")]
    [InlineData("{% if x %}\nfoo", 1, 1, "this '{% if %}' is never closed with '{% endif %}'")]
    [InlineData("x\n{% endif %}", 2, 1, "'{% endif %}' is not inside a tag it belongs to")]
    [InlineData("{% for x in y %}{% else %}{% else %}{% endfor %}", 1, 27, "'{% else %}' is not inside a tag it belongs to")]
    [InlineData("{{ 'abc }}", 1, 4, "the string opened here is not closed")]
    [InlineData("{{ x + }}", 1, 8, "unexpected '}}'")]
    [InlineData("{{ }}", 1, 4, "unexpected '}}'")]
    [InlineData("{{ (1 + 2 }}", 1, 11, "unexpected '}': the bracket opened before it is not closed")]
    [InlineData("{{ 1 ] }}", 1, 6, "unexpected ']'")]
    [InlineData("{# never closed", 1, 1, "the comment opened here is not closed with '#}'")]
    [InlineData("text {{ x", 1, 6, "the tag opened here is not closed with '}}'")]
    [InlineData("{{ x @ y }}", 1, 6, "unexpected character '@'")]
    [InlineData("{{ 99999999999999999999 }}", 1, 4, "the integer 99999999999999999999 is too large")]
    [InlineData("{{ '\\N{DASH}' }}", 1, 5, "named escapes (\\N{...}) are not supported")]
    [InlineData("{{ '\\x4' }}", 1, 5, "the escape \\x needs 2 hexadecimal digits of a valid code point")]
    [InlineData("{{ a[1, 2] }}", 1, 7, "subscripts with several keys are not supported")]
    [InlineData("{{ f(a=1, 2) }}", 1, 11, "a positional argument follows a keyword argument")]
    [InlineData("{{ f(*args) }}", 1, 6, "argument unpacking (*args, **kwargs) is not supported")]
    [InlineData("{% set true = 1 %}", 1, 8, "cannot assign to 'true'")]
    [InlineData("{% for x of y %}{% endfor %}", 1, 10, "expected 'in' after the loop variable, got 'of'")]
    [InlineData("{% if %}{% endif %}", 1, 7, "unexpected '%}'")]
    [InlineData("{{ x. }}", 1, 7, "expected an attribute name or an index after '.', got '}}'")]
    public void SyntaxErrorsNameTheirPosition(string template, int line, int column, string reason)
    {
        var e = Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse(template));
        Assert.Equal(reason, e.Reason);
        Assert.Equal(new TemplatePosition(line, column), e.Position);
    }

    [Fact]
    public void NestingIsBoundedInsteadOfOverflowingTheStack()
    {
        var parentheses = "{{ " + new string('(', 150) + "1" + new string(')', 150) + " }}";
        Assert.Equal("the template nests deeper than 100 levels", Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse(parentheses)).Reason);
        var chain = "{{ " + string.Join(" + ", Enumerable.Repeat("1", 400)) + " }}";
        Assert.Equal("the expression nests deeper than 300 levels", Assert.Throws<TemplateRenderException>(() => Render(chain)).Reason);
        Assert.Equal("200", Render("{{ " + string.Join(" + ", Enumerable.Repeat("1", 200)) + " }}"));
    }

    [Fact]
    public void VariablesOfOtherTypesAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => Render("{{ x }}", ("x", new object?[] { 1 })));
        Assert.Contains("x[0] is a Int32", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OneParsedTemplateRendersConcurrently()
    {
        var template = JinjaTemplate.Parse("{% set ns = namespace(n=0) %}{% for i in range(x) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}");
        Parallel.For(0, 64, i => Assert.Equal((i * (i - 1) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), template.Render(new Dictionary<string, object?> { ["x"] = (long)i })));
    }

    private static string Render(string template, params (string Name, object? Value)[] variables) =>
        Render(template, variables.ToDictionary(v => v.Name, v => v.Value));

    private static string Render(string template, IReadOnlyDictionary<string, object?> variables) => JinjaTemplate.Parse(template).Render(variables);
}
