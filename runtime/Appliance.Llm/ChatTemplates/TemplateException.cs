namespace Appliance.Llm.ChatTemplates;

/// <summary>
/// A chat template failed: it could not be parsed, or rendering it failed. <see cref="Exception.Message"/> is
/// <c>line L, column C: reason</c>, the position being where in the template source the failure is (1-based; the
/// column counts UTF-16 code units).
/// </summary>
internal abstract class TemplateException : Exception
{
    /// <summary>A failure at <paramref name="position"/> with its reason for people.</summary>
    protected TemplateException(TemplatePosition position, string reason)
        : base($"line {position.Line}, column {position.Column}: {reason}")
    {
        Position = position;
        Reason = reason;
    }

    /// <summary>Where in the template source the failure is.</summary>
    public TemplatePosition Position { get; }

    /// <summary>The reason alone, without the position.</summary>
    public string Reason { get; }
}

/// <summary>The template source is not valid, or uses syntax, a filter or a test this engine does not support.</summary>
internal sealed class TemplateSyntaxException(TemplatePosition position, string reason) : TemplateException(position, reason);

/// <summary>
/// Rendering failed: an operation on values of the wrong type, an undefined value used as more than an empty
/// string, a bad argument. Raised by <see cref="JinjaTemplate.Render"/>.
/// </summary>
internal class TemplateRenderException(TemplatePosition position, string reason) : TemplateException(position, reason);

/// <summary>
/// The template called <c>raise_exception(message)</c>, as Hugging Face templates do to refuse a conversation
/// (roles that do not alternate, a system message where none is allowed). <see cref="TemplateException.Reason"/>
/// is the template's own message.
/// </summary>
internal sealed class TemplateRaisedException(TemplatePosition position, string message) : TemplateRenderException(position, message);

/// <summary>A 1-based line and column in a template source.</summary>
/// <param name="Line">The line, from 1.</param>
/// <param name="Column">The column, from 1, in UTF-16 code units.</param>
internal readonly record struct TemplatePosition(int Line, int Column)
{
    /// <summary>The position of character <paramref name="offset"/> of <paramref name="source"/>.</summary>
    public static TemplatePosition Of(string source, int offset)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset && i < source.Length; i++)
        {
            if (source[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return new TemplatePosition(line, offset - lineStart + 1);
    }
}
