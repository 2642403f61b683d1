using System.Globalization;
using System.Text;

namespace Appliance.Llm.ChatTemplates;

/// <summary>What a <see cref="TemplateToken"/> is.</summary>
internal enum TokenKind
{
    /// <summary>Literal text between tags, whitespace control already applied.</summary>
    Text,

    /// <summary><c>{{</c>, with its <c>-</c> or <c>+</c> modifier.</summary>
    VariableBegin,

    /// <summary><c>}}</c>, with its <c>-</c> modifier.</summary>
    VariableEnd,

    /// <summary><c>{%</c>, with its <c>-</c> or <c>+</c> modifier.</summary>
    BlockBegin,

    /// <summary><c>%}</c>, with its <c>-</c> or <c>+</c> modifier.</summary>
    BlockEnd,

    /// <summary>A name: a variable, keyword, filter, test or attribute.</summary>
    Name,

    /// <summary>A string literal; the value has its escapes decoded.</summary>
    String,

    /// <summary>An integer literal.</summary>
    Integer,

    /// <summary>A float literal.</summary>
    Float,

    /// <summary>An operator or punctuation: <c>+ - * / // % ** ~ == != &lt; &gt; &lt;= &gt;= = ( ) [ ] { } , . : |</c>.</summary>
    Operator,

    /// <summary>The end of the template.</summary>
    EndOfInput,
}

/// <summary>One token of a template.</summary>
/// <param name="Kind">What the token is.</param>
/// <param name="Value">The text, the operator, the name, or the decoded string value.</param>
/// <param name="Offset">Where the token starts in the normalized source.</param>
internal readonly record struct TemplateToken(TokenKind Kind, string Value, int Offset)
{
    /// <summary>True for the operator <paramref name="op"/>.</summary>
    public bool Is(string op) => Kind == TokenKind.Operator && Value == op;

    /// <summary>True for the name <paramref name="name"/> (a keyword such as <c>in</c> or <c>not</c>).</summary>
    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;

    /// <summary>The token as an error message names it.</summary>
    public string Describe() => Kind switch
    {
        TokenKind.EndOfInput => "the end of the template",
        TokenKind.Text => "template text",
        TokenKind.String => "a string",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into tokens the way Jinja does for Hugging Face chat templates: <c>trim_blocks</c> (the first
/// newline after a block tag or comment is removed) and <c>lstrip_blocks</c> (spaces and tabs before a block tag or
/// comment at the start of a line are removed) are on, <c>-</c> beside a delimiter strips all whitespace on that
/// side and <c>+</c> keeps it.
/// </summary>
internal static class TemplateLexer
{
    private static readonly string[] s_twoCharOperators = ["//", "**", "==", "!=", "<=", ">="];
    private const string SingleCharOperators = "+-*/%~()[]{}<>=.:|,";

    /// <summary>
    /// Normalizes a template source as Jinja does before lexing: <c>\r\n</c> and <c>\r</c> become <c>\n</c>, and a
    /// single trailing newline is dropped. Positions of errors are positions in the normalized source, whose lines
    /// and columns are those of the original.
    /// </summary>
    public static string Normalize(string source)
    {
        var text = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        return text.EndsWith('\n') ? text[..^1] : text;
    }

    /// <summary>Tokenizes a normalized source (see <see cref="Normalize"/>); the last token is <see cref="TokenKind.EndOfInput"/>.</summary>
    /// <exception cref="TemplateSyntaxException">A tag, comment or string is not closed, a character is not part of the
    /// syntax, brackets do not balance, or the template uses <c>{% raw %}</c>.</exception>
    public static List<TemplateToken> Tokenize(string source)
    {
        var tokens = new List<TemplateToken>();
        var pos = 0;
        var lineStarting = true;
        while (pos < source.Length)
        {
            var start = FindTagStart(source, pos);
            if (start < 0)
            {
                tokens.Add(new TemplateToken(TokenKind.Text, source[pos..], pos));
                break;
            }

            var kind = source[start + 1];
            var modifier = start + 2 < source.Length && source[start + 2] is '-' or '+' ? source[start + 2] : '\0';
            var text = source[pos..start];
            if (modifier == '-')
            {
                text = TrimEndWhitespace(text);
            }
            else if (modifier != '+' && kind != '{')
            {
                text = StripIndentBeforeTag(text, lineStarting);
            }

            if (text.Length > 0)
            {
                tokens.Add(new TemplateToken(TokenKind.Text, text, pos));
            }

            var inner = start + 2 + (modifier == '\0' ? 0 : 1);
            pos = kind == '#' ? SkipComment(source, start, inner) : LexTag(source, tokens, start, inner, kind == '%');
            lineStarting = source[pos - 1] == '\n';
        }

        tokens.Add(new TemplateToken(TokenKind.EndOfInput, "", source.Length));
        return tokens;
    }

    /// <summary>Python's <c>str.isspace</c>: .NET's white space plus the separators U+001C–U+001F.</summary>
    public static bool IsWhitespace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    private static int FindTagStart(string source, int from)
    {
        for (var i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
        {
            if (source[i + 1] is '{' or '%' or '#')
            {
                return i;
            }
        }

        return -1;
    }

    private static string TrimEndWhitespace(string text)
    {
        var end = text.Length;
        while (end > 0 && IsWhitespace(text[end - 1]))
        {
            end--;
        }

        return text[..end];
    }

    // lstrip_blocks: the spaces and tabs between the line's start and a block tag go, when nothing else is there.
    private static string StripIndentBeforeTag(string text, bool lineStarting)
    {
        var lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !lineStarting)
        {
            return text;
        }

        for (var i = lineStart; i < text.Length; i++)
        {
            if (text[i] is not (' ' or '\t'))
            {
                return text;
            }
        }

        return text[..lineStart];
    }

    private static int SkipWhitespace(string source, int pos)
    {
        while (pos < source.Length && IsWhitespace(source[pos]))
        {
            pos++;
        }

        return pos;
    }

    private static int SkipComment(string source, int start, int inner)
    {
        var end = source.IndexOf("#}", inner, StringComparison.Ordinal);
        if (end < 0)
        {
            throw Error(source, start, "the comment opened here is not closed with '#}'");
        }

        var after = end + 2;
        return source[end - 1] switch
        {
            '-' when end - 1 >= inner => SkipWhitespace(source, after),
            '+' when end - 1 >= inner => after,
            _ => after < source.Length && source[after] == '\n' ? after + 1 : after,
        };
    }

    // Lexes one {{ }} or {% %} tag from just after its opening delimiter; returns the position after its end.
    private static int LexTag(string source, List<TemplateToken> tokens, int start, int pos, bool block)
    {
        tokens.Add(new TemplateToken(block ? TokenKind.BlockBegin : TokenKind.VariableBegin, block ? "{%" : "{{", start));
        var brackets = new Stack<(char Close, int Offset)>();
        var firstName = true;
        while (true)
        {
            pos = SkipWhitespace(source, pos);
            if (pos >= source.Length)
            {
                throw Error(source, start, $"the tag opened here is not closed with '{(block ? "%}" : "}}")}'");
            }

            if (brackets.Count == 0 && TryLexTagEnd(source, tokens, ref pos, block))
            {
                return pos;
            }

            var c = source[pos];
            if (char.IsLetter(c) || c == '_')
            {
                var end = pos + 1;
                while (end < source.Length && (char.IsLetterOrDigit(source[end]) || source[end] == '_'))
                {
                    end++;
                }

                var name = source[pos..end];
                if (block && firstName && name == "raw")
                {
                    throw Error(source, pos, "{% raw %} blocks are not supported");
                }

                tokens.Add(new TemplateToken(TokenKind.Name, name, pos));
                pos = end;
            }
            else if (char.IsAsciiDigit(c))
            {
                pos = LexNumber(source, tokens, pos);
            }
            else if (c is '\'' or '"')
            {
                pos = LexString(source, tokens, pos);
            }
            else
            {
                pos = LexOperator(source, tokens, brackets, pos);
            }

            firstName = false;
        }
    }

    private static bool TryLexTagEnd(string source, List<TemplateToken> tokens, ref int pos, bool block)
    {
        var close = block ? "%}" : "}}";
        var at = pos;
        char modifier = '\0';
        if (source[pos] is '-' or '+' && string.CompareOrdinal(source, pos + 1, close, 0, 2) == 0 && (block || source[pos] == '-'))
        {
            modifier = source[pos];
        }
        else if (string.CompareOrdinal(source, pos, close, 0, 2) != 0)
        {
            return false;
        }

        pos += modifier == '\0' ? 2 : 3;
        tokens.Add(new TemplateToken(block ? TokenKind.BlockEnd : TokenKind.VariableEnd, close, at));
        if (modifier == '-')
        {
            pos = SkipWhitespace(source, pos);
        }
        else if (block && modifier == '\0' && pos < source.Length && source[pos] == '\n')
        {
            pos++;
        }

        return true;
    }

    private static int LexNumber(string source, List<TemplateToken> tokens, int pos)
    {
        var start = pos;
        pos = SkipDigits(source, pos);

        // After a dot (foo.0) only an integer: the index of an item.
        var afterDot = tokens.Count > 0 && tokens[^1].Is(".");
        var isFloat = false;
        if (!afterDot && pos + 1 < source.Length && source[pos] == '.' && char.IsAsciiDigit(source[pos + 1]))
        {
            pos = SkipDigits(source, pos + 1);
            isFloat = true;
        }

        if (!afterDot && pos < source.Length && source[pos] is 'e' or 'E')
        {
            var exponent = pos + 1;
            if (exponent < source.Length && source[exponent] is '+' or '-')
            {
                exponent++;
            }

            if (exponent < source.Length && char.IsAsciiDigit(source[exponent]))
            {
                pos = SkipDigits(source, exponent);
                isFloat = true;
            }
        }

        var text = source[start..pos];
        if (!isFloat && !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            throw Error(source, start, $"the integer {text} is too large");
        }

        tokens.Add(new TemplateToken(isFloat ? TokenKind.Float : TokenKind.Integer, text, start));
        return pos;
    }

    private static int SkipDigits(string source, int pos)
    {
        while (pos < source.Length && char.IsAsciiDigit(source[pos]))
        {
            pos++;
        }

        return pos;
    }

    private static int LexOperator(string source, List<TemplateToken> tokens, Stack<(char Close, int Offset)> brackets, int pos)
    {
        var op = pos + 1 < source.Length && Array.IndexOf(s_twoCharOperators, source.Substring(pos, 2)) >= 0
            ? source.Substring(pos, 2)
            : SingleCharOperators.Contains(source[pos], StringComparison.Ordinal) ? source[pos].ToString() : null;
        switch (op)
        {
            case null:
                throw Error(source, pos, $"unexpected character '{source[pos]}'");
            case "(":
                brackets.Push((')', pos));
                break;
            case "[":
                brackets.Push((']', pos));
                break;
            case "{":
                brackets.Push(('}', pos));
                break;
            case ")" or "]" or "}":
                if (brackets.Count == 0)
                {
                    throw Error(source, pos, $"unexpected '{op}'");
                }

                if (brackets.Pop().Close != op[0])
                {
                    throw Error(source, pos, $"unexpected '{op}': the bracket opened before it is not closed");
                }

                break;
        }

        tokens.Add(new TemplateToken(TokenKind.Operator, op, pos));
        return pos + op.Length;
    }

    // A quoted string; escapes are decoded as Python's unicode-escape codec does, which is what Jinja applies.
    private static int LexString(string source, List<TemplateToken> tokens, int start)
    {
        var quote = source[start];
        var value = new StringBuilder();
        var pos = start + 1;
        while (true)
        {
            if (pos >= source.Length)
            {
                throw Error(source, start, "the string opened here is not closed");
            }

            var c = source[pos];
            if (c == quote)
            {
                tokens.Add(new TemplateToken(TokenKind.String, value.ToString(), start));
                return pos + 1;
            }

            if (c != '\\')
            {
                value.Append(c);
                pos++;
                continue;
            }

            if (pos + 1 >= source.Length)
            {
                throw Error(source, start, "the string opened here is not closed");
            }

            pos = DecodeEscape(source, pos, value);
        }
    }

    // Decodes the escape at source[pos] (a backslash) into value; returns the position after it.
    private static int DecodeEscape(string source, int pos, StringBuilder value)
    {
        var next = source[pos + 1];
        switch (next)
        {
            case '\n':
                return pos + 2;
            case '\\' or '\'' or '"':
                value.Append(next);
                return pos + 2;
            case 'a':
                value.Append('\a');
                return pos + 2;
            case 'b':
                value.Append('\b');
                return pos + 2;
            case 'f':
                value.Append('\f');
                return pos + 2;
            case 'n':
                value.Append('\n');
                return pos + 2;
            case 'r':
                value.Append('\r');
                return pos + 2;
            case 't':
                value.Append('\t');
                return pos + 2;
            case 'v':
                value.Append('\v');
                return pos + 2;
            case >= '0' and <= '7':
                {
                    var end = pos + 1;
                    var code = 0;
                    while (end < source.Length && end < pos + 4 && source[end] is >= '0' and <= '7')
                    {
                        code = (code * 8) + (source[end] - '0');
                        end++;
                    }

                    value.Append((char)code);
                    return end;
                }

            case 'x' or 'u' or 'U':
                {
                    var digits = next switch { 'x' => 2, 'u' => 4, _ => 8 };
                    var hex = pos + 2 + digits <= source.Length ? source.Substring(pos + 2, digits) : "";
                    if (hex.Length != digits || !int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code) || code > 0x10FFFF)
                    {
                        throw Error(source, pos, $"the escape \\{next} needs {digits} hexadecimal digits of a valid code point");
                    }

                    value.Append(code <= 0xFFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code));
                    return pos + 2 + digits;
                }

            case 'N':
                throw Error(source, pos, "named escapes (\\N{...}) are not supported");
            default:
                // Python keeps an unknown escape as it is.
                value.Append('\\');
                return pos + 1;
        }
    }

    private static TemplateSyntaxException Error(string source, int offset, string reason) => new(TemplatePosition.Of(source, offset), reason);
}
