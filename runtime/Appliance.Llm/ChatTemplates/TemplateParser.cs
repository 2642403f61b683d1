using System.Globalization;

namespace Appliance.Llm.ChatTemplates;

/// <summary>
/// Parses template tokens into statements with Jinja's grammar and operator precedence (lowest first):
/// <c>x if c else y</c>; <c>or</c>; <c>and</c>; <c>not</c>; comparisons and <c>in</c>/<c>not in</c> (chained);
/// <c>+ -</c>; <c>~</c>; <c>* / // %</c>; <c>**</c>; unary <c>- +</c>; then filters (<c>|</c>) and tests
/// (<c>is</c>) on a primary with its attribute, item, slice and call suffixes.
/// </summary>
/// <remarks>
/// Supported tags: <c>if</c>/<c>elif</c>/<c>else</c>/<c>endif</c>, <c>for</c>/<c>else</c>/<c>endfor</c> (one name
/// or several to unpack, an optional <c>if</c> filter), <c>set</c> of names or of a namespace attribute. Every
/// other tag (<c>macro</c>, <c>call</c>, <c>filter</c>, block <c>set</c>, <c>include</c>, <c>break</c>…), a filter
/// or test this engine does not know, a test with arguments, and <c>*args</c>/<c>**kwargs</c> are refused with a
/// <see cref="TemplateSyntaxException"/> at their position.
/// </remarks>
internal sealed class TemplateParser
{
    // Deeper nesting is refused rather than risking the stack: real templates nest a handful of levels.
    private const int MaxDepth = 100;

    private static readonly HashSet<string> s_unsupportedTags = new(StringComparer.Ordinal)
    {
        "macro", "call", "filter", "block", "extends", "include", "import", "from", "with", "autoescape", "do", "break", "continue", "trans",
    };

    private static readonly HashSet<string> s_comparisons = new(StringComparer.Ordinal) { "==", "!=", "<", ">", "<=", ">=" };

    private readonly string _source;
    private readonly List<TemplateToken> _tokens;
    private int _next;
    private int _depth;

    private TemplateParser(string source, List<TemplateToken> tokens)
    {
        _source = source;
        _tokens = tokens;
    }

    private TemplateToken Current => _tokens[_next];

    /// <summary>Parses a normalized template source (see <see cref="TemplateLexer.Normalize"/>).</summary>
    /// <exception cref="TemplateSyntaxException">The template is not valid, or uses what this engine does not support.</exception>
    public static IReadOnlyList<TemplateNode> Parse(string source)
    {
        return new TemplateParser(source, TemplateLexer.Tokenize(source)).ParseBody(null, []);
    }

    // Statements until EndOfInput, or until a {% tag %} whose name is in ends (left unconsumed); the opener is the
    // tag those ends close, named in the error when the template ends first.
    private List<TemplateNode> ParseBody((int Offset, string Tag)? opener, string[] ends)
    {
        var nodes = new List<TemplateNode>();
        Enter(Current);
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfInput:
                    if (opener is { } open)
                    {
                        throw Error(open.Offset, $"this '{{% {open.Tag} %}}' is never closed with '{{% {ends[^1]} %}}'");
                    }

                    _depth--;
                    return nodes;
                case TokenKind.Text:
                    nodes.Add(new TextNode(token.Offset, token.Value));
                    _next++;
                    break;
                case TokenKind.VariableBegin:
                    _next++;
                    nodes.Add(new OutputNode(token.Offset, ParseTuple(withCondition: true)));
                    Expect(TokenKind.VariableEnd, "'}}'");
                    break;
                case TokenKind.BlockBegin:
                    var name = _tokens[_next + 1];
                    if (name.Kind == TokenKind.Name && Array.IndexOf(ends, name.Value) >= 0)
                    {
                        _depth--;
                        return nodes;
                    }

                    nodes.Add(ParseStatement());
                    break;
                default:
                    throw Error(token.Offset, $"unexpected {token.Describe()}");
            }
        }
    }

    private TemplateNode ParseStatement()
    {
        var begin = Current;
        _next++;
        var name = Current;
        if (name.Kind != TokenKind.Name)
        {
            throw Error(name.Offset, $"expected a tag name after '{{%', got {name.Describe()}");
        }

        _next++;
        return name.Value switch
        {
            "if" => ParseIf(begin),
            "for" => ParseFor(begin),
            "set" => ParseSet(begin),
            "elif" or "else" or "endif" or "endfor" or "endset" => throw Error(begin.Offset, $"'{{% {name.Value} %}}' is not inside a tag it belongs to"),
            _ when s_unsupportedTags.Contains(name.Value) => throw Error(name.Offset, $"'{{% {name.Value} %}}' is not supported"),
            _ => throw Error(name.Offset, $"unknown tag '{name.Value}'"),
        };
    }

    private IfNode ParseIf(TemplateToken begin)
    {
        var branches = new List<(Expression, IReadOnlyList<TemplateNode>)>();
        IReadOnlyList<TemplateNode> otherwise = [];
        var test = ParseTuple(withCondition: false);
        while (true)
        {
            ExpectBlockEnd();
            branches.Add((test, ParseBody((begin.Offset, "if"), ["elif", "else", "endif"])));
            _next++;
            var tag = Current.Value;
            _next++;
            if (tag == "elif")
            {
                test = ParseTuple(withCondition: false);
                continue;
            }

            if (tag == "else")
            {
                ExpectBlockEnd();
                otherwise = ParseBody((begin.Offset, "if"), ["endif"]);
                _next += 2;
            }

            ExpectBlockEnd();
            return new IfNode(begin.Offset, branches, otherwise);
        }
    }

    private ForNode ParseFor(TemplateToken begin)
    {
        var (targets, unpack) = ParseTargets();
        if (!Current.IsName("in"))
        {
            throw Error(Current.Offset, $"expected 'in' after the loop variable, got {Current.Describe()}");
        }

        _next++;
        var iterable = ParseTuple(withCondition: false);
        Expression? filter = null;
        if (Current.IsName("if"))
        {
            _next++;
            filter = ParseExpression();
        }

        if (Current.IsName("recursive"))
        {
            throw Error(Current.Offset, "recursive loops are not supported");
        }

        ExpectBlockEnd();
        var body = ParseBody((begin.Offset, "for"), ["else", "endfor"]);
        IReadOnlyList<TemplateNode> otherwise = [];
        if (_tokens[_next + 1].Value == "else")
        {
            _next += 2;
            ExpectBlockEnd();
            otherwise = ParseBody((begin.Offset, "for"), ["endfor"]);
        }

        _next += 2;
        ExpectBlockEnd();
        return new ForNode(begin.Offset, targets, unpack, iterable, filter, body, otherwise);
    }

    private TemplateNode ParseSet(TemplateToken begin)
    {
        if (Current.Kind == TokenKind.Name && _tokens[_next + 1].Is("."))
        {
            var ns = Current.Value;
            _next += 2;
            var attribute = Expect(TokenKind.Name, "an attribute name").Value;
            ExpectOperator("=");
            var value = ParseTuple(withCondition: true);
            ExpectBlockEnd();
            return new SetAttributeNode(begin.Offset, ns, attribute, value);
        }

        var (targets, unpack) = ParseTargets();
        if (Current.Kind == TokenKind.BlockEnd)
        {
            throw Error(begin.Offset, "block assignments ('{% set x %}...{% endset %}') are not supported");
        }

        ExpectOperator("=");
        var assigned = ParseTuple(withCondition: true);
        ExpectBlockEnd();
        return new SetNode(begin.Offset, targets, unpack, assigned);
    }

    // One name, or names separated by commas (a trailing comma makes a one-name unpack, as in Python).
    private (List<string> Names, bool Unpack) ParseTargets()
    {
        var names = new List<string>();
        var unpack = false;
        while (true)
        {
            var name = Expect(TokenKind.Name, "a variable name");
            if (name.Value is "true" or "false" or "none" or "True" or "False" or "None" or "in" or "not" or "and" or "or" or "if" or "else" or "is")
            {
                throw Error(name.Offset, $"cannot assign to '{name.Value}'");
            }

            names.Add(name.Value);
            if (!Current.Is(","))
            {
                return (names, unpack);
            }

            unpack = true;
            _next++;
            if (Current.Kind != TokenKind.Name || Current.IsName("in"))
            {
                return (names, unpack);
            }
        }
    }

    // An expression, or a tuple when commas separate several (as in {{ a, b }} and {% set x = a, b %}).
    private Expression ParseTuple(bool withCondition, bool parenthesized = false)
    {
        var offset = Current.Offset;
        if (parenthesized && Current.Is(")"))
        {
            return new ListExpression(offset, [], Tuple: true);
        }

        var first = ParseExpression(withCondition);
        if (!Current.Is(","))
        {
            return first;
        }

        var items = new List<Expression> { first };
        while (Current.Is(","))
        {
            _next++;
            if (Current.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd || Current.Is(")"))
            {
                break;
            }

            items.Add(ParseExpression(withCondition));
        }

        return new ListExpression(offset, items, Tuple: true);
    }

    private Expression ParseExpression(bool withCondition = true)
    {
        Enter(Current);
        var result = withCondition ? ParseConditional() : ParseOr();
        _depth--;
        return result;
    }

    private Expression ParseConditional()
    {
        var result = ParseOr();
        while (Current.IsName("if"))
        {
            _next++;
            var test = ParseOr();
            Expression? otherwise = null;
            if (Current.IsName("else"))
            {
                _next++;
                otherwise = ParseConditional();
            }

            result = new ConditionalExpression(result.Offset, test, result, otherwise);
        }

        return result;
    }

    private Expression ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            _next++;
            left = new BinaryExpression(left.Offset, "or", left, ParseAnd());
        }

        return left;
    }

    private Expression ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            _next++;
            left = new BinaryExpression(left.Offset, "and", left, ParseNot());
        }

        return left;
    }

    private Expression ParseNot()
    {
        if (!Current.IsName("not"))
        {
            return ParseCompare();
        }

        var not = Current;
        _next++;
        Enter(not);
        var operand = ParseNot();
        _depth--;
        return new UnaryExpression(not.Offset, "not", operand);
    }

    private Expression ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, Expression)>();
        while (true)
        {
            string op;
            if (Current.Kind == TokenKind.Operator && s_comparisons.Contains(Current.Value))
            {
                op = Current.Value;
                _next++;
            }
            else if (Current.IsName("in"))
            {
                op = "in";
                _next++;
            }
            else if (Current.IsName("not") && _tokens[_next + 1].IsName("in"))
            {
                op = "not in";
                _next += 2;
            }
            else
            {
                break;
            }

            rest.Add((op, ParseMath1()));
        }

        return rest.Count == 0 ? first : new CompareExpression(first.Offset, first, rest);
    }

    private Expression ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Is("+") || Current.Is("-"))
        {
            var op = Current.Value;
            _next++;
            left = new BinaryExpression(left.Offset, op, left, ParseConcat());
        }

        return left;
    }

    private Expression ParseConcat()
    {
        var left = ParseMath2();
        while (Current.Is("~"))
        {
            _next++;
            left = new BinaryExpression(left.Offset, "~", left, ParseMath2());
        }

        return left;
    }

    private Expression ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Current.Value;
            _next++;
            left = new BinaryExpression(left.Offset, op, left, ParsePow());
        }

        return left;
    }

    private Expression ParsePow()
    {
        var left = ParseUnary(withFilters: true);
        while (Current.Is("**"))
        {
            _next++;
            left = new BinaryExpression(left.Offset, "**", left, ParseUnary(withFilters: true));
        }

        return left;
    }

    // As Jinja: the operand of a sign takes no filters, but filters after it apply to the signed value (-x|abs).
    private Expression ParseUnary(bool withFilters)
    {
        Expression node;
        if (Current.Is("-") || Current.Is("+"))
        {
            var sign = Current;
            _next++;
            Enter(sign);
            node = new UnaryExpression(sign.Offset, sign.Value, ParseUnary(withFilters: false));
            _depth--;
        }
        else
        {
            node = ParsePrimary();
        }

        node = ParsePostfix(node);
        return withFilters ? ParseFiltersAndTests(node) : node;
    }

    private Expression ParsePrimary()
    {
        var token = Current;
        _next++;
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new ConstantExpression(token.Offset, true),
                    "false" or "False" => new ConstantExpression(token.Offset, false),
                    "none" or "None" => new ConstantExpression(token.Offset, null),
                    _ => new NameExpression(token.Offset, token.Value),
                };
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String)
                {
                    text += Current.Value;
                    _next++;
                }

                return new ConstantExpression(token.Offset, text);
            case TokenKind.Integer:
                return new ConstantExpression(token.Offset, long.Parse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture));
            case TokenKind.Float:
                return new ConstantExpression(token.Offset, double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Operator when token.Value == "(":
                var inner = ParseTuple(withCondition: true, parenthesized: true);
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                return new ListExpression(token.Offset, ParseSequence("]"), Tuple: false);
            case TokenKind.Operator when token.Value == "{":
                var pairs = new List<(Expression, Expression)>();
                while (!Current.Is("}"))
                {
                    if (pairs.Count > 0)
                    {
                        ExpectOperator(",");
                        if (Current.Is("}"))
                        {
                            break;
                        }
                    }

                    var key = ParseExpression();
                    ExpectOperator(":");
                    pairs.Add((key, ParseExpression()));
                }

                _next++;
                return new DictExpression(token.Offset, pairs);
            default:
                throw Error(token.Offset, $"unexpected {token.Describe()}");
        }
    }

    // Comma-separated expressions up to the closing operator (consumed); a trailing comma is allowed.
    private List<Expression> ParseSequence(string close)
    {
        var items = new List<Expression>();
        while (!Current.Is(close))
        {
            if (items.Count > 0)
            {
                ExpectOperator(",");
                if (Current.Is(close))
                {
                    break;
                }
            }

            items.Add(ParseExpression());
        }

        _next++;
        return items;
    }

    private Expression ParsePostfix(Expression node)
    {
        while (true)
        {
            var token = Current;
            if (token.Is("."))
            {
                _next++;
                var attribute = Current;
                _next++;
                node = attribute.Kind switch
                {
                    TokenKind.Name => new AttributeExpression(node.Offset, node, attribute.Value),
                    TokenKind.Integer => new ItemExpression(node.Offset, node, new ConstantExpression(attribute.Offset, long.Parse(attribute.Value, CultureInfo.InvariantCulture))),
                    _ => throw Error(attribute.Offset, $"expected an attribute name or an index after '.', got {attribute.Describe()}"),
                };
            }
            else if (token.Is("["))
            {
                _next++;
                node = ParseSubscript(node);
            }
            else if (token.Is("("))
            {
                node = new CallExpression(node.Offset, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private Expression ParseSubscript(Expression target)
    {
        Expression? start = null;
        if (!Current.Is(":"))
        {
            start = ParseExpression();
            if (Current.Is("]"))
            {
                _next++;
                return new ItemExpression(target.Offset, target, start);
            }

            if (!Current.Is(":"))
            {
                throw Error(Current.Offset, Current.Is(",") ? "subscripts with several keys are not supported" : $"expected ']' or ':', got {Current.Describe()}");
            }
        }

        _next++;
        var stop = Current.Is(":") || Current.Is("]") ? null : ParseExpression();
        Expression? step = null;
        if (Current.Is(":"))
        {
            _next++;
            step = Current.Is("]") ? null : ParseExpression();
        }

        ExpectOperator("]");
        return new SliceExpression(target.Offset, target, start, stop, step);
    }

    private TemplateArguments<Expression> ParseCallArguments()
    {
        ExpectOperator("(");
        var positional = new List<Expression>();
        var keywords = new List<(string, Expression)>();
        while (!Current.Is(")"))
        {
            if (positional.Count + keywords.Count > 0)
            {
                ExpectOperator(",");
                if (Current.Is(")"))
                {
                    break;
                }
            }

            if (Current.Is("*") || Current.Is("**"))
            {
                throw Error(Current.Offset, "argument unpacking (*args, **kwargs) is not supported");
            }

            if (Current.Kind == TokenKind.Name && _tokens[_next + 1].Is("="))
            {
                var name = Current.Value;
                _next += 2;
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0)
                {
                    throw Error(Current.Offset, "a positional argument follows a keyword argument");
                }

                positional.Add(ParseExpression());
            }
        }

        _next++;
        return new TemplateArguments<Expression>(positional, keywords);
    }

    private Expression ParseFiltersAndTests(Expression node)
    {
        while (true)
        {
            var token = Current;
            if (token.Is("|"))
            {
                _next++;
                var name = Expect(TokenKind.Name, "a filter name");
                if (!TemplateBuiltins.IsFilter(name.Value))
                {
                    throw Error(name.Offset, $"unknown filter '{name.Value}' (this engine has: {string.Join(", ", TemplateBuiltins.FilterNames)})");
                }

                var arguments = Current.Is("(") ? ParseCallArguments() : TemplateArguments<Expression>.None;
                node = new FilterExpression(name.Offset, node, name.Value, arguments);
            }
            else if (token.IsName("is"))
            {
                _next++;
                var negated = Current.IsName("not");
                if (negated)
                {
                    _next++;
                }

                var name = Expect(TokenKind.Name, "a test name");
                if (!TemplateBuiltins.IsTest(name.Value))
                {
                    throw Error(name.Offset, $"unknown test '{name.Value}' (this engine has: {string.Join(", ", TemplateBuiltins.TestNames)})");
                }

                // Jinja would read an argument here (x is divisibleby 3, x is sameas(y)); none of ours takes one.
                var next = Current;
                if (next.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                    || next.Is("(") || next.Is("[") || next.Is("{")
                    || (next.Kind == TokenKind.Name && next.Value is not ("else" or "or" or "and")))
                {
                    throw Error(next.Offset, $"the test '{name.Value}' takes no argument");
                }

                node = new TestExpression(token.Offset, node, name.Value, negated);
            }
            else if (token.Is("("))
            {
                node = new CallExpression(node.Offset, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private void Enter(TemplateToken at)
    {
        if (++_depth > MaxDepth)
        {
            throw Error(at.Offset, $"the template nests deeper than {MaxDepth} levels");
        }
    }

    private TemplateToken Expect(TokenKind kind, string what)
    {
        var token = Current;
        if (token.Kind != kind)
        {
            throw Error(token.Offset, $"expected {what}, got {token.Describe()}");
        }

        _next++;
        return token;
    }

    private void ExpectOperator(string op)
    {
        if (!Current.Is(op))
        {
            throw Error(Current.Offset, $"expected '{op}', got {Current.Describe()}");
        }

        _next++;
    }

    private void ExpectBlockEnd() => Expect(TokenKind.BlockEnd, "'%}'");

    private TemplateSyntaxException Error(int offset, string reason) => new(TemplatePosition.Of(_source, offset), reason);
}
