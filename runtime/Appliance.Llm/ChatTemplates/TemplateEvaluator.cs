using System.Text;
using static Appliance.Llm.ChatTemplates.TemplateValues;

namespace Appliance.Llm.ChatTemplates;

/// <summary>
/// Renders parsed statements. Scopes follow Jinja: <c>{% set %}</c> assigns in the current scope, an <c>if</c>
/// shares its enclosing scope, each iteration of a <c>for</c> gets its own scope (assignments in the loop body do
/// not outlive the iteration; a namespace's attributes do).
/// </summary>
internal sealed class TemplateEvaluator
{
    // Deeper expression trees (a chain of hundreds of '+') are refused rather than risking the stack.
    private const int MaxDepth = 300;

    private readonly string _source;
    private readonly StringBuilder _output = new();
    private int _depth;

    private TemplateEvaluator(string source) => _source = source;

    /// <summary>Renders <paramref name="body"/> with the variables, which shadow the globals (<see cref="TemplateBuiltins.Globals"/>).</summary>
    /// <param name="source">The normalized source the body was parsed from, for the positions of errors.</param>
    /// <param name="body">The parsed template.</param>
    /// <param name="variables">Template values (see <see cref="TemplateValues"/>).</param>
    /// <exception cref="TemplateRenderException">Rendering failed; <see cref="TemplateRaisedException"/> when the template called <c>raise_exception</c>.</exception>
    public static string Render(string source, IReadOnlyList<TemplateNode> body, IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        foreach (var (name, value) in TemplateBuiltins.Globals)
        {
            globals.Set(name, value);
        }

        foreach (var (name, value) in variables)
        {
            globals.Set(name, value);
        }

        var evaluator = new TemplateEvaluator(source);
        evaluator.Execute(body, new Scope(globals));
        return evaluator._output.ToString();
    }

    private void Execute(IReadOnlyList<TemplateNode> nodes, Scope scope)
    {
        foreach (var node in nodes)
        {
            try
            {
                Execute(node, scope);
            }
            catch (TemplateValueException e)
            {
                throw Failure(node.Offset, e);
            }
        }
    }

    private void Execute(TemplateNode node, Scope scope)
    {
        switch (node)
        {
            case TextNode text:
                _output.Append(text.Text);
                break;
            case OutputNode output:
                _output.Append(Str(Evaluate(output.Value, scope)));
                break;
            case IfNode conditional:
                var branch = conditional.Branches.FirstOrDefault(b => IsTrue(Evaluate(b.Test, scope))).Body ?? conditional.Else;
                Execute(branch, scope);
                break;
            case ForNode loop:
                ExecuteFor(loop, scope);
                break;
            case SetNode set:
                Assign(scope, set.Targets, set.Unpack, Evaluate(set.Value, scope));
                break;
            case SetAttributeNode set:
                if (scope.Get(set.Namespace) is not TemplateNamespace ns)
                {
                    throw new TemplateValueException($"cannot assign attribute on '{set.Namespace}', which is not a namespace()");
                }

                ns.Attributes[set.Attribute] = Evaluate(set.Value, scope);
                break;
            default:
                throw new InvalidOperationException($"unknown statement {node.GetType().Name}");
        }
    }

    private void ExecuteFor(ForNode loop, Scope scope)
    {
        var items = Iterate(Evaluate(loop.Iterable, scope));
        if (loop.Filter is { } filter)
        {
            items = [.. items.Where(item =>
            {
                var test = new Scope(scope);
                Assign(test, loop.Targets, loop.Unpack, item);
                return IsTrue(Evaluate(filter, test));
            })];
        }

        if (items.Count == 0)
        {
            Execute(loop.Else, new Scope(scope));
            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            var iteration = new Scope(scope);
            iteration.Set("loop", new TemplateLoop(items, i));
            Assign(iteration, loop.Targets, loop.Unpack, items[i]);
            Execute(loop.Body, iteration);
        }
    }

    private static void Assign(Scope scope, IReadOnlyList<string> targets, bool unpack, object? value)
    {
        if (!unpack)
        {
            scope.Set(targets[0], value);
            return;
        }

        var items = Iterate(value);
        if (items.Count != targets.Count)
        {
            throw new TemplateValueException(items.Count < targets.Count
                ? $"not enough values to unpack (expected {targets.Count}, got {items.Count})"
                : $"too many values to unpack (expected {targets.Count})");
        }

        for (var i = 0; i < targets.Count; i++)
        {
            scope.Set(targets[i], items[i]);
        }
    }

    private object? Evaluate(Expression expression, Scope scope)
    {
        if (++_depth > MaxDepth)
        {
            throw new TemplateRenderException(TemplatePosition.Of(_source, expression.Offset), $"the expression nests deeper than {MaxDepth} levels");
        }

        try
        {
            return EvaluateNode(expression, scope);
        }
        catch (TemplateValueException e)
        {
            throw Failure(expression.Offset, e);
        }
        finally
        {
            _depth--;
        }
    }

    private object? EvaluateNode(Expression expression, Scope scope) => expression switch
    {
        ConstantExpression constant => constant.Value,
        NameExpression name => scope.Get(name.Name),
        ListExpression list => list.Tuple
            ? new TemplateTuple([.. list.Items.Select(i => Evaluate(i, scope))])
            : list.Items.Select(i => Evaluate(i, scope)).ToArray(),
        DictExpression dict => EvaluateDict(dict, scope),
        AttributeExpression attribute => GetAttribute(Evaluate(attribute.Target, scope), attribute.Name),
        ItemExpression item => GetItem(Evaluate(item.Target, scope), Evaluate(item.Key, scope)),
        SliceExpression slice => Slice(
            Evaluate(slice.Target, scope),
            slice.Start is null ? null : Evaluate(slice.Start, scope),
            slice.Stop is null ? null : Evaluate(slice.Stop, scope),
            slice.Step is null ? null : Evaluate(slice.Step, scope)),
        CallExpression call => EvaluateCall(call, scope),
        FilterExpression filter => TemplateBuiltins.ApplyFilter(filter.Name, Evaluate(filter.Value, scope), EvaluateArguments(filter.Arguments, scope)),
        TestExpression test => TemplateBuiltins.RunTest(test.Name, Evaluate(test.Value, scope)) != test.Negated,
        UnaryExpression { Operator: "not" } not => !IsTrue(Evaluate(not.Operand, scope)),
        UnaryExpression sign => Sign(sign.Operator, Evaluate(sign.Operand, scope)),
        BinaryExpression binary => EvaluateBinary(binary, scope),
        CompareExpression compare => EvaluateCompare(compare, scope),
        ConditionalExpression conditional => IsTrue(Evaluate(conditional.Test, scope))
            ? Evaluate(conditional.Then, scope)
            : conditional.Otherwise is { } otherwise ? Evaluate(otherwise, scope) : new Undefined("the inline if-expression evaluated to false and has no else"),
        _ => throw new InvalidOperationException($"unknown expression {expression.GetType().Name}"),
    };

    private OrderedDictionary<string, object?> EvaluateDict(DictExpression dict, Scope scope)
    {
        var result = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (keyExpression, valueExpression) in dict.Pairs)
        {
            if (Evaluate(keyExpression, scope) is not string key)
            {
                throw new TemplateValueException("dict keys must be strings in this engine");
            }

            result[key] = Evaluate(valueExpression, scope);
        }

        return result;
    }

    private object? EvaluateCall(CallExpression call, Scope scope)
    {
        var callee = Evaluate(call.Callee, scope);
        var arguments = EvaluateArguments(call.Arguments, scope);
        return callee switch
        {
            TemplateCallable function => function.Invoke(arguments),
            Undefined undefined => throw undefined.Fail(),
            _ => throw new TemplateValueException($"'{TypeName(callee)}' object is not callable"),
        };
    }

    private TemplateArguments<object?> EvaluateArguments(TemplateArguments<Expression> arguments, Scope scope) => new(
        [.. arguments.Positional.Select(a => Evaluate(a, scope))],
        [.. arguments.Keywords.Select(k => (k.Name, Evaluate(k.Value, scope)))]);

    private object? EvaluateBinary(BinaryExpression binary, Scope scope)
    {
        var left = Evaluate(binary.Left, scope);
        return binary.Operator switch
        {
            "and" => IsTrue(left) ? Evaluate(binary.Right, scope) : left,
            "or" => IsTrue(left) ? left : Evaluate(binary.Right, scope),
            "~" => Str(left) + Str(Evaluate(binary.Right, scope)),
            _ => Arithmetic(binary.Operator, left, Evaluate(binary.Right, scope)),
        };
    }

    private bool EvaluateCompare(CompareExpression compare, Scope scope)
    {
        var left = Evaluate(compare.First, scope);
        foreach (var (op, operand) in compare.Rest)
        {
            var right = Evaluate(operand, scope);
            var holds = op switch
            {
                "==" => AreEqual(left, right),
                "!=" => !AreEqual(left, right),
                "in" => Contains(right, left),
                "not in" => !Contains(right, left),
                "<" => TemplateValues.Compare(left, right, op) < 0,
                ">" => TemplateValues.Compare(left, right, op) > 0,
                "<=" => TemplateValues.Compare(left, right, op) <= 0,
                _ => TemplateValues.Compare(left, right, op) >= 0,
            };
            if (!holds)
            {
                return false;
            }

            left = right;
        }

        return true;
    }

    private TemplateRenderException Failure(int offset, TemplateValueException e)
    {
        var position = TemplatePosition.Of(_source, offset);
        return e.Raised ? new TemplateRaisedException(position, e.Message) : new TemplateRenderException(position, e.Message);
    }

    // A scope's own variables, then its parent's; a name found nowhere is undefined.
    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);
        private readonly Scope? _parent = parent;

        public object? Get(string name)
        {
            for (var scope = this; scope is not null; scope = scope._parent)
            {
                if (scope._variables.TryGetValue(name, out var value))
                {
                    return value;
                }
            }

            return new Undefined($"'{name}' is undefined");
        }

        public void Set(string name, object? value) => _variables[name] = value;
    }
}
