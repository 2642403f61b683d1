namespace Appliance.Llm.ChatTemplates;

// The syntax tree of a template. Every node keeps an offset in the normalized source, for the line and column of
// errors raised while it is evaluated: where its tag or expression starts (a filter: the filter's name; a test: 'is').

/// <summary>A statement: text, an output, or a tag with its body.</summary>
internal abstract record TemplateNode(int Offset);

/// <summary>Literal text.</summary>
internal sealed record TextNode(int Offset, string Text) : TemplateNode(Offset);

/// <summary><c>{{ expression }}</c>: the value, as Python's <c>str</c> writes it.</summary>
internal sealed record OutputNode(int Offset, Expression Value) : TemplateNode(Offset);

/// <summary><c>{% if %}</c> with its <c>elif</c> branches, in order, and its <c>else</c> body (empty when absent).</summary>
internal sealed record IfNode(int Offset, IReadOnlyList<(Expression Test, IReadOnlyList<TemplateNode> Body)> Branches, IReadOnlyList<TemplateNode> Else) : TemplateNode(Offset);

/// <summary>
/// <c>{% for targets in iterable if filter %}</c>: <paramref name="Targets"/> holds one name, or several to unpack
/// each item into (<paramref name="Unpack"/>); <paramref name="Else"/> runs when no item passed.
/// </summary>
internal sealed record ForNode(int Offset, IReadOnlyList<string> Targets, bool Unpack, Expression Iterable, Expression? Filter, IReadOnlyList<TemplateNode> Body, IReadOnlyList<TemplateNode> Else) : TemplateNode(Offset);

/// <summary><c>{% set name = value %}</c>, or <c>{% set a, b = value %}</c> when <paramref name="Unpack"/>.</summary>
internal sealed record SetNode(int Offset, IReadOnlyList<string> Targets, bool Unpack, Expression Value) : TemplateNode(Offset);

/// <summary><c>{% set namespace.attribute = value %}</c>.</summary>
internal sealed record SetAttributeNode(int Offset, string Namespace, string Attribute, Expression Value) : TemplateNode(Offset);

/// <summary>An expression.</summary>
internal abstract record Expression(int Offset);

/// <summary>A literal: string, long, double, bool or null (Python's <c>None</c>).</summary>
internal sealed record ConstantExpression(int Offset, object? Value) : Expression(Offset);

/// <summary><c>[a, b]</c>, or <c>(a, b)</c> when <paramref name="Tuple"/>.</summary>
internal sealed record ListExpression(int Offset, IReadOnlyList<Expression> Items, bool Tuple) : Expression(Offset);

/// <summary><c>{key: value, ...}</c>.</summary>
internal sealed record DictExpression(int Offset, IReadOnlyList<(Expression Key, Expression Value)> Pairs) : Expression(Offset);

/// <summary>A variable.</summary>
internal sealed record NameExpression(int Offset, string Name) : Expression(Offset);

/// <summary><c>value.name</c>: an attribute (a method) first, then an item.</summary>
internal sealed record AttributeExpression(int Offset, Expression Target, string Name) : Expression(Offset);

/// <summary><c>value[key]</c>: an item first, then an attribute.</summary>
internal sealed record ItemExpression(int Offset, Expression Target, Expression Key) : Expression(Offset);

/// <summary><c>value[start:stop:step]</c>, any part optional.</summary>
internal sealed record SliceExpression(int Offset, Expression Target, Expression? Start, Expression? Stop, Expression? Step) : Expression(Offset);

/// <summary><c>callee(arguments, name=value)</c>.</summary>
internal sealed record CallExpression(int Offset, Expression Callee, TemplateArguments<Expression> Arguments) : Expression(Offset);

/// <summary><c>value | name(arguments)</c>; the name is one <see cref="TemplateBuiltins"/> knows.</summary>
internal sealed record FilterExpression(int Offset, Expression Value, string Name, TemplateArguments<Expression> Arguments) : Expression(Offset);

/// <summary><c>value is name</c>, or <c>value is not name</c> when <paramref name="Negated"/>.</summary>
internal sealed record TestExpression(int Offset, Expression Value, string Name, bool Negated) : Expression(Offset);

/// <summary><c>not value</c>, <c>-value</c>, <c>+value</c>.</summary>
internal sealed record UnaryExpression(int Offset, string Operator, Expression Operand) : Expression(Offset);

/// <summary>
/// <c>left op right</c> for the arithmetic operators, <c>~</c>, and the short-circuit <c>and</c> and <c>or</c>.
/// </summary>
internal sealed record BinaryExpression(int Offset, string Operator, Expression Left, Expression Right) : Expression(Offset);

/// <summary>
/// A comparison chain, <c>a &lt; b &lt;= c</c>, as Python evaluates it: each pair in turn, stopping at the first
/// false one. Operators: <c>== != &lt; &gt; &lt;= &gt;= in</c> and <c>not in</c>.
/// </summary>
internal sealed record CompareExpression(int Offset, Expression First, IReadOnlyList<(string Operator, Expression Operand)> Rest) : Expression(Offset);

/// <summary><c>then if test else otherwise</c>; without <c>else</c> a false test gives an undefined value.</summary>
internal sealed record ConditionalExpression(int Offset, Expression Test, Expression Then, Expression? Otherwise) : Expression(Offset);

/// <summary>The arguments of a call or filter: positional ones, then keyword ones in the order written.</summary>
/// <typeparam name="T">Expressions while parsing, values while evaluating.</typeparam>
internal sealed record TemplateArguments<T>(IReadOnlyList<T> Positional, IReadOnlyList<(string Name, T Value)> Keywords)
{
    /// <summary>No arguments.</summary>
    public static TemplateArguments<T> None { get; } = new([], []);
}
