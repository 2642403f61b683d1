using System.Text.RegularExpressions;

namespace Appliance.Meetings;

/// <summary>
/// The fallback summary, made from the transcript alone when no language model is installed or it fails: the
/// most informative sentences (TF-IDF scoring over the meeting's sentences), decisions and action items found by
/// cue phrases, questions left open. Always valid against the summary schema and labelled
/// <see cref="SummarySource.Extractive"/>. Thread-safe; cue phrases are English.
/// </summary>
public static partial class ExtractiveSummarizer
{
    private const int MaxTitleLength = 80;
    private const int MaxListItems = 20;
    private const int MinInformativeWords = 4;

    private static readonly HashSet<string> StopWords = new(
        """
        a about above after again all also am an and any are as at be because been before being below between both
        but by can could did do does doing down during each few for from further had has have having he her here hers
        him his how i if in into is it its itself just let's me more most my no nor not now of off on once only or
        other our ours out over own same she should so some such than that that's the their them then there these they
        this those through to too under until up very was we were what when where which while who whom why will with
        would you your yeah yes okay ok um uh like really right well so gonna kind sort thing things think know mean
        going get got go i'm it's we're you're they're don't can't i'll we'll
        """.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries),
        StringComparer.Ordinal);

    private static readonly HashSet<string> NotNames = new(
        ["We", "I", "It", "This", "That", "There", "They", "He", "She", "You", "Everyone", "Someone", "Somebody", "Nobody", "Who", "What", "Then", "So", "And", "But", "Also", "Maybe"],
        StringComparer.Ordinal);

    /// <summary>Summarizes a transcript.</summary>
    /// <param name="transcript">The segments (latest revisions), in order.</param>
    /// <param name="parameters">The session's start parameters: language hint, participant names, summary limits.</param>
    /// <param name="gaps">The session's gaps, reported unchanged.</param>
    public static MeetingSummary Summarize(IReadOnlyList<TranscriptSegment> transcript, MeetingParameters parameters, IReadOnlyList<SequenceGap> gaps)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gaps);
        var options = parameters.Summary ?? new SummaryOptions();
        var sentences = transcript.SelectMany(s => TextUnits.Sentences(s.Text)).Distinct(StringComparer.Ordinal).ToList();
        var ranked = Rank(sentences);

        var summaryPicks = ranked.Take(options.MaxSummarySentences).Order().Select(i => sentences[i]).ToList();
        var keyPoints = ranked.Take(options.MaxKeyPoints).Order().Select(i => sentences[i]).ToList();
        var decisions = sentences.Where(s => DecisionCue().IsMatch(s)).Take(MaxListItems).ToList();
        var actionItems = sentences.Select(s => TryActionItem(s, parameters.Participants ?? [])).OfType<ActionItem>().Take(MaxListItems).ToList();
        var openQuestions = sentences.Where(s => s.EndsWith('?') && TextUnits.Words(s).Count() >= MinInformativeWords).Take(MaxListItems).ToList();

        return new MeetingSummary(
            Title: ranked.Count > 0 ? Title(sentences[ranked[0]]) : "Meeting",
            Summary: summaryPicks.Count > 0 ? string.Join(' ', summaryPicks) : "No speech was transcribed.",
            KeyPoints: keyPoints,
            Decisions: decisions,
            ActionItems: actionItems,
            OpenQuestions: openQuestions,
            Language: Language(options.OutputLanguage ?? parameters.LanguageHint),
            Gaps: [.. gaps],
            Source: SummarySource.Extractive);
    }

    /// <summary>Indices of informative sentences, best first.</summary>
    private static List<int> Rank(List<string> sentences)
    {
        var terms = sentences.Select(s => TextUnits.Words(s).Where(w => w.Length > 1 && !StopWords.Contains(w)).ToList()).ToList();
        var termCount = new Dictionary<string, int>(StringComparer.Ordinal);
        var documentCount = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var sentenceTerms in terms)
        {
            foreach (var term in sentenceTerms)
            {
                termCount[term] = termCount.GetValueOrDefault(term) + 1;
            }

            foreach (var term in sentenceTerms.Distinct(StringComparer.Ordinal))
            {
                documentCount[term] = documentCount.GetValueOrDefault(term) + 1;
            }
        }

        var total = sentences.Count;
        var scores = new double[total];
        for (var i = 0; i < total; i++)
        {
            if (TextUnits.Words(sentences[i]).Count() < MinInformativeWords || terms[i].Count == 0)
            {
                continue;
            }

            var weight = terms[i].Distinct(StringComparer.Ordinal)
                .Sum(t => Math.Log(1 + termCount[t]) * Math.Log(1 + ((double)total / documentCount[t])));
            scores[i] = weight / Math.Sqrt(terms[i].Count + 1);
        }

        return [.. Enumerable.Range(0, total).Where(i => scores[i] > 0).OrderByDescending(i => scores[i]).ThenBy(i => i)];
    }

    private static ActionItem? TryActionItem(string sentence, IReadOnlyList<string> participants)
    {
        var explicitCue = ActionCue().IsMatch(sentence);
        var commitment = CommitmentCue().IsMatch(sentence);
        var due = DuePhrase().Match(sentence) is { Success: true } m ? m.Groups["due"].Value : null;
        var owner = participants.FirstOrDefault(p => Regex.IsMatch(sentence, $@"\b{Regex.Escape(p)}\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)));
        if (owner is null && NamedSubject().Match(sentence) is { Success: true } named && !NotNames.Contains(named.Groups["name"].Value))
        {
            owner = named.Groups["name"].Value;
        }

        if (!explicitCue && !(commitment && (owner is not null || due is not null)))
        {
            return null;
        }

        return new ActionItem(owner ?? "unassigned", sentence.TrimEnd('.', '!', ' '), due);
    }

    private static string Title(string sentence)
    {
        var title = sentence.TrimEnd('.', '!', '?', '…', ' ');
        if (title.Length <= MaxTitleLength)
        {
            return title.Length > 0 ? title : "Meeting";
        }

        var cut = title.LastIndexOf(' ', MaxTitleLength - 1);
        return string.Concat(title.AsSpan(0, cut > 0 ? cut : MaxTitleLength - 1), "…");
    }

    private static string Language(string? hint)
    {
        if (string.IsNullOrEmpty(hint))
        {
            return "und";
        }

        var dash = hint.IndexOf('-', StringComparison.Ordinal);
        var normalised = dash < 0 ? hint.ToLowerInvariant() : string.Concat(hint[..dash].ToLowerInvariant(), hint.AsSpan(dash));
        return LanguageTag().IsMatch(normalised) ? normalised : "und";
    }

    [GeneratedRegex(@"\b(we (have |had )?decided|decided to|the decision is|we agreed|(are|is|all) agreed|agreed (to|that|on)|let's go with|we('ll| will) go with|approved|settled on)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DecisionCue();

    [GeneratedRegex(@"\b(action items?|to-?do|follow up on|take care of|assigned to)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ActionCue();

    [GeneratedRegex(@"\b(will|'ll|needs? to|is going to|are going to|should|must|has to|have to)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CommitmentCue();

    [GeneratedRegex(@"\b(?<name>[A-Z][a-z]+)\s+(will|'ll|needs to|is going to|should|has to)\b", RegexOptions.CultureInvariant)]
    private static partial Regex NamedSubject();

    [GeneratedRegex(@"\b((by|before|until|due|on)\s+)?(?<due>(next |this )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)|tomorrow|tonight|next (week|month)|end of (the )?(day|week|month|quarter)|\d{4}-\d{2}-\d{2})\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DuePhrase();

    [GeneratedRegex("^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$", RegexOptions.CultureInvariant)]
    private static partial Regex LanguageTag();
}
